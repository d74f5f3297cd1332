"""3D U-Net shared by the base, protuberance and fusion networks."""

from __future__ import annotations

import torch
from torch import nn

# Resolution levels, all below full resolution: one strided convolution, then four
# max-pools.
DOWNSAMPLING_LEVELS = 5
DOWNSAMPLING_FACTOR = 2**DOWNSAMPLING_LEVELS

# Channels per GroupNorm group. GroupNorm is used in place of InstanceNorm because it
# keeps working on the 1-voxel bottleneck of a 32-voxel patch, and torch exports it to
# ONNX opset 13 as InstanceNormalization on a reshaped tensor.
CHANNELS_PER_GROUP = 8


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(max(1, channels // CHANNELS_PER_GROUP), channels, affine=True)


class ConvBlock(nn.Sequential):
    """Convolution 3x3x3, GroupNorm and LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(
            nn.Conv3d(in_channels, out_channels, 3, stride=stride, padding=1),
            _norm(out_channels),
            nn.LeakyReLU(0.01, inplace=True),
        )


class UNet3D(nn.Module):
    """3D U-Net that returns logits of shape [N, out_channels, D, H, W].

    The encoder has five resolution levels, all below full resolution. Level 0 starts
    with a stride-2 convolution and levels 1 to 4 start with a 2x2x2 max-pool. Each level
    has two convolutions, and level l has ``min(base_channels * 2**l, channel_cap)``
    channels. The decoder has one step per level: a trilinear up-sample by 2, then one
    convolution. Steps 4 to 1 concatenate the encoder's skip connection first. The last
    step returns to full resolution and concatenates the input, and its convolution
    gives the logits. No convolution runs on full-resolution features wider than the input,
    which keeps inference on a CPU affordable. D, H and W must be multiples of 32.
    """

    def __init__(self, in_channels: int, out_channels: int, base_channels: int, channel_cap: int):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.base_channels = base_channels
        self.channel_cap = channel_cap
        widths = [min(base_channels * 2**level, channel_cap) for level in range(DOWNSAMPLING_LEVELS)]
        self.widths = widths

        self.encoder = nn.ModuleList()
        previous = in_channels
        for level, width in enumerate(widths):
            if level == 0:
                layers = [ConvBlock(previous, width, stride=2), ConvBlock(width, width)]
            else:
                layers = [nn.MaxPool3d(2), ConvBlock(previous, width), ConvBlock(width, width)]
            self.encoder.append(nn.Sequential(*layers))
            previous = width

        self.upsample = nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False)
        self.decoder = nn.ModuleList()
        for level in range(DOWNSAMPLING_LEVELS - 1, 0, -1):
            self.decoder.append(ConvBlock(widths[level] + widths[level - 1], widths[level - 1]))
        self.head = nn.Conv3d(widths[0] + in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Shapes are constants while tracing for ONNX export, so the check runs only in eager mode.
        if not torch.jit.is_tracing() and any(int(size) % DOWNSAMPLING_FACTOR for size in x.shape[2:]):
            raise ValueError(f"UNet3D input spatial shape {tuple(x.shape[2:])} is not a multiple of "
                             f"{DOWNSAMPLING_FACTOR} on every axis")
        image = x
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in self.decoder:
            x = block(torch.cat([self.upsample(x), skips.pop()], dim=1))
        return self.head(torch.cat([self.upsample(x), image], dim=1))


class WithSigmoid(nn.Module):
    """Wrapper that turns a network's logits into probabilities, used for export."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
