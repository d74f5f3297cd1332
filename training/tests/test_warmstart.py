"""Loading a network back from its exported ONNX file."""

import pytest
import torch

from protrude_train import export, nets, warmstart


def _randomized(network: nets.UNet3D, seed: int) -> nets.UNet3D:
    # Fresh GroupNorm layers are all ones and zeros, which would hide a wrong order.
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return network


@pytest.mark.parametrize("name,in_channels,out_channels,width", [("base", 1, 2, 8), ("fusion", 2, 1, 8),
                                                                  ("protuberance", 1, 1, 4)])
def test_warmstart_round_trip(tmp_path, name, in_channels, out_channels, width):
    original = _randomized(nets.UNet3D(in_channels, out_channels, width, 16), seed=3)
    path = tmp_path / f"{name}.onnx"
    export.export_model(original, {**export.MODEL_SPECS[name], "input_channels": in_channels,
                                   "output_channels": out_channels}, 32, path)
    loaded = nets.UNet3D(in_channels, out_channels, width, 16)
    warmstart.load_onnx_weights(loaded, path)
    for key, tensor in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key


def test_warmstart_refuses_other_layout(tmp_path):
    path = tmp_path / "base.onnx"
    export.export_model(_randomized(nets.UNet3D(1, 2, 8, 16), seed=1), export.MODEL_SPECS["base"], 32, path)
    with pytest.raises(ValueError, match="base.onnx: parameter .* has shape"):
        warmstart.load_onnx_weights(nets.UNet3D(1, 2, 16, 32), path)
