import pytest
import torch

from protrude_train import nets
from protrude_train.export import MAX_BUNDLE_BYTES

NETWORKS = {
    # name: (in, out, base channels)
    "base": (1, 2, 16),
    "protuberance": (1, 1, 8),
    "fusion": (2, 1, 16),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_unet_output_shape(name):
    in_channels, out_channels, base = NETWORKS[name]
    net = nets.UNet3D(in_channels, out_channels, base, 64).eval()
    x = torch.randn(1, in_channels, 32, 64, 96)
    with torch.no_grad():
        y = net(x)
    assert tuple(y.shape) == (1, out_channels, 32, 64, 96)


def test_unet_channel_widths():
    assert nets.UNet3D(1, 2, 16, 64).widths == [16, 32, 64, 64, 64]
    assert nets.UNet3D(1, 1, 8, 64).widths == [8, 16, 32, 64, 64]
    assert nets.UNet3D(1, 1, 8, 32).widths == [8, 16, 32, 32, 32]


def test_unet_first_convolution_is_strided():
    # The encoder starts with the stride-2 convolution, so no 3x3x3 convolution runs on
    # full-resolution features except the output convolution.
    net = nets.UNet3D(1, 2, 16, 64)
    first = net.encoder[0][0][0]
    assert isinstance(first, torch.nn.Conv3d)
    assert first.stride == (2, 2, 2)
    assert first.out_channels == 16
    assert net.head.in_channels == 16 + 1


def test_unet_rejects_size_not_multiple_of_32():
    net = nets.UNet3D(1, 1, 8, 64)
    with pytest.raises(ValueError, match="multiple of 32"):
        net(torch.zeros(1, 1, 32, 32, 48))


def test_unet_sigmoid_wrapper_range():
    net = nets.WithSigmoid(nets.UNet3D(1, 2, 8, 16)).eval()
    with torch.no_grad():
        y = net(torch.randn(1, 1, 32, 32, 32) * 10)
    assert float(y.min()) >= 0.0
    assert float(y.max()) <= 1.0


def test_unet_weights_fit_bundle_limit():
    total = sum(nets.parameter_count(nets.UNet3D(i, o, c, 64)) for i, o, c in NETWORKS.values())
    assert total * 4 < MAX_BUNDLE_BYTES
