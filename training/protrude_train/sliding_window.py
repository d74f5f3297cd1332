"""Sliding-window inference over a whole volume with Gaussian blending.

This is the Python reference for evaluation. Input and output arrays are [C, D, H, W]
(one volume, channels first). Windows are cubes of side `patch`, placed so that
neighbours overlap by at least `overlap` of a side, and the last window on each axis
ends at the volume's edge. Each window's prediction is weighted by a Gaussian centred
on the window (sigma = patch / 8) and the weighted sum is divided by the summed
weights. Example: a [1, 200, 150, 300] volume with patch 96 and overlap 0.25 gives
starts (0, 52, 104) x (0, 54) x (0, 68, 136, 204) and a [K, 200, 150, 300] output.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def window_starts(length: int, patch: int, overlap: float) -> list[int]:
    """Return window start indices along an axis of `length` (length >= patch)."""
    if length <= patch:
        return [0]
    stride = patch * (1.0 - overlap)
    count = math.ceil((length - patch) / stride) + 1
    return [int(round(i * (length - patch) / (count - 1))) for i in range(count)]


def gaussian_weights(patch: int, sigma_fraction: float = 0.125) -> np.ndarray:
    """Return a [patch]^3 Gaussian weight map, maximum 1, clipped away from 0."""
    centre = (patch - 1) / 2
    axis = np.exp(-0.5 * ((np.arange(patch) - centre) / (sigma_fraction * patch)) ** 2)
    weights = axis[:, None, None] * axis[None, :, None] * axis[None, None, :]
    return np.maximum(weights / weights.max(), 1e-3).astype(np.float32)


def predict_volume(volume: np.ndarray, model, patch: int, overlap: float = 0.25, pad_value: float = 0.0,
                   out_channels: int | None = None) -> np.ndarray:
    """Apply model to every window of volume and blend the outputs.

    model takes a float32 tensor [1, C, patch, patch, patch] and returns
    [1, K, patch, patch, patch]. A volume smaller than patch along an axis is padded
    with pad_value and the padding is cut from the result.
    """
    channels, *size = volume.shape
    padded_size = [max(s, patch) for s in size]
    padded = np.full((channels, *padded_size), pad_value, dtype=np.float32)
    padded[:, : size[0], : size[1], : size[2]] = volume
    weights = gaussian_weights(patch)

    output = None
    weight_sum = np.zeros(padded_size, np.float32)
    with torch.no_grad():
        for z in window_starts(padded_size[0], patch, overlap):
            for y in window_starts(padded_size[1], patch, overlap):
                for x in window_starts(padded_size[2], patch, overlap):
                    window = (slice(z, z + patch), slice(y, y + patch), slice(x, x + patch))
                    block = torch.from_numpy(np.ascontiguousarray(padded[(slice(None),) + window]))[None]
                    prediction = model(block)[0].numpy()
                    if output is None:
                        output = np.zeros((out_channels or prediction.shape[0], *padded_size), np.float32)
                    output[(slice(None),) + window] += prediction * weights
                    weight_sum[window] += weights
    output /= weight_sum
    return output[:, : size[0], : size[1], : size[2]]
