"""Initialize networks from the weights stored in an exported ONNX bundle.

A run can start from an earlier bundle (``train --init-from DIR``) instead of from
random weights, so that a short CPU run continues where the last one stopped.

torch.onnx.export keeps the parameter names of the convolutions ("net.encoder.0.0.0.weight"
for the wrapped network's "encoder.0.0.0.weight"). GroupNorm is exported as
InstanceNormalization followed by a Mul and an Add whose constants lose their names
("onnx::Mul_305" of shape [C, 1, 1, 1]). Those constants appear in the graph's
initializer list in the same order as the GroupNorm layers in the network, Mul before
Add, so they are matched by order and checked by shape.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from . import nets

EXPORT_PREFIX = "net."


def load_onnx_weights(network: nets.UNet3D, path: pathlib.Path) -> None:
    """Copy every parameter of network from the ONNX model at path.

    Raises ValueError, naming the file and the parameter, when a parameter is missing,
    has another shape, or when unmatched constants remain.
    """
    path = pathlib.Path(path)
    model = onnx.load(str(path))
    named = {}
    unnamed = []
    for initializer in model.graph.initializer:
        array = numpy_helper.to_array(initializer)
        if initializer.name.startswith(EXPORT_PREFIX):
            named[initializer.name[len(EXPORT_PREFIX):]] = array
        elif initializer.name.startswith("onnx::Mul_") or initializer.name.startswith("onnx::Add_"):
            unnamed.append((initializer.name, array))

    state = network.state_dict()
    norm_names = [name for name, module in network.named_modules() if isinstance(module, torch.nn.GroupNorm)]
    if len(unnamed) != 2 * len(norm_names):
        raise ValueError(f"{path}: {len(unnamed)} normalization constants for {len(norm_names)} GroupNorm layers; "
                         f"the bundle was made by another network layout")
    loaded = {}
    for index, name in enumerate(norm_names):
        for offset, (kind, field) in enumerate((("Mul", "weight"), ("Add", "bias"))):
            constant_name, array = unnamed[2 * index + offset]
            if f"onnx::{kind}_" not in constant_name:
                raise ValueError(f"{path}: constant {constant_name} found where the {kind} of {name} was expected")
            loaded[f"{name}.{field}"] = array.reshape(-1)

    for key, array in named.items():
        loaded[key] = array
    for key, tensor in state.items():
        if key not in loaded:
            raise ValueError(f"{path}: parameter {key} is not in the model")
        if tuple(loaded[key].shape) != tuple(tensor.shape):
            raise ValueError(f"{path}: parameter {key} has shape {tuple(loaded[key].shape)}, "
                             f"the network expects {tuple(tensor.shape)}")
    extra = sorted(set(loaded) - set(state))
    if extra:
        raise ValueError(f"{path}: parameters {extra[:3]} have no place in the network")
    network.load_state_dict({key: torch.from_numpy(np.array(loaded[key], copy=True)) for key in state})


def load_bundle(networks: dict, bundle_dir: pathlib.Path, files: dict[str, str]) -> None:
    """Load each network in networks from bundle_dir/files[name]."""
    for name, network in networks.items():
        load_onnx_weights(network, pathlib.Path(bundle_dir) / files[name])
