"""Synthetic training samples for the protuberance detection network (PDN).

A sample joins a tumor-free KiTS19 kidney with a KiTS19 tumor shape that is turned,
scaled and moved to a random point on the kidney surface. The PDN input is the union
of both, blurred and noised so that it resembles the base network's kidney
probability map. The target is the part of the tumor outside the kidney,
t * (1 - k).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from . import kits, shapes

# A sample is kept only when the tumor covers at most this fraction of the kidney...
MAX_KIDNEY_OVERLAP = 0.30
# ...and at least this fraction of the tumor lies outside the kidney.
MIN_PROTRUDED_FRACTION = 0.05


def accept_sample(kidney: np.ndarray, tumor: np.ndarray, max_overlap: float = MAX_KIDNEY_OVERLAP,
                  min_protruded: float = MIN_PROTRUDED_FRACTION) -> bool:
    """Return whether a kidney/tumor pair meets the acceptance rule.

    With k the kidney and t the tumor mask, the rule is
    sum(k * t) / sum(k) <= max_overlap and sum(t * (1 - k)) / sum(t) >= min_protruded.
    Empty masks are rejected.
    """
    k = kidney.astype(bool)
    t = tumor.astype(bool)
    kidney_voxels = int(k.sum())
    tumor_voxels = int(t.sum())
    if kidney_voxels == 0 or tumor_voxels == 0:
        return False
    overlap = (k & t).sum() / kidney_voxels
    protruded = (t & ~k).sum() / tumor_voxels
    return bool(overlap <= max_overlap and protruded >= min_protruded)


@dataclasses.dataclass
class ProtrusionSample:
    """PDN training patch: soft input, target and union mask, each of shape [P, P, P]."""

    soft_input: np.ndarray  # float32 in [0, 1], imitation kidney probability
    target: np.ndarray  # bool, protruded part of the tumor
    union: np.ndarray  # bool, kidney or tumor before softening
    # The acceptance quantities on the whole masks, before cropping (0 for negatives):
    # sum(k*t)/sum(k) and sum(t*(1-k))/sum(t).
    kidney_overlap: float = 0.0
    protruded_fraction: float = 0.0


# Size of the synthetic PDN dataset: sample i is always the same for a given seed.
DEFAULT_DATASET_SIZE = 10_000


def place_tumor(kidney: np.ndarray, tumor: np.ndarray, rng: np.random.Generator,
                scale_range=(0.5, 1.3), max_tumor_to_kidney=0.6):
    """Turn, scale and place a tumor shape on the kidney surface.

    Returns (kidney, tumor) as bool arrays on a common, padded grid. The tumor centre
    sits on a surface voxel, moved along the outward normal by up to 0.8 tumor radii
    either way, so both exophytic and mostly embedded tumors occur.
    """
    kidney_voxels = kidney.sum()
    scale = rng.uniform(*scale_range)
    volume = tumor.sum() * scale**3
    if volume > max_tumor_to_kidney * kidney_voxels:
        scale *= (max_tumor_to_kidney * kidney_voxels / volume) ** (1 / 3)
    moved = shapes.transform_mask(tumor, shapes.random_rotation_scale(rng, 180.0, (scale, scale), 0.15))
    if moved.sum() == 0:
        return None
    moved, _ = shapes.trim_to_mask(moved, 1)
    radius = (3 * moved.sum() / (4 * np.pi)) ** (1 / 3)

    pad = int(np.ceil(max(moved.shape))) + 2
    k = np.pad(kidney.astype(bool), pad)
    surface = np.argwhere(k & ~ndimage.binary_erosion(k))
    point = surface[int(rng.integers(len(surface)))].astype(np.float64)

    # Outward normal from the gradient of the blurred kidney mask.
    window = tuple(slice(int(p) - 4, int(p) + 5) for p in point)
    smooth = ndimage.gaussian_filter(k[window].astype(np.float32), 2.0)
    normal = -np.array([g[4, 4, 4] for g in np.gradient(smooth)])
    norm = np.linalg.norm(normal)
    normal = normal / norm if norm > 1e-6 else rng.standard_normal(3) / np.sqrt(3)
    centre = point + normal * rng.uniform(-0.8, 0.8) * radius

    t = np.zeros_like(k)
    half = np.asarray(moved.shape) // 2
    shapes.paste_mask(t, moved, tuple(int(round(c)) - int(h) for c, h in zip(centre, half)), True)
    return k, t


def soften(union: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turn a binary mask into an imitation probability map in [0, 1].

    Blur sigma 0.5-2.5 mm, then a random gain and shift, smooth low-frequency
    variation and voxel noise.
    """
    soft = ndimage.gaussian_filter(union.astype(np.float32), rng.uniform(0.5, 2.5))
    soft = soft * rng.uniform(0.6, 1.0) + rng.uniform(-0.1, 0.1)
    soft += rng.uniform(0.0, 0.2) * shapes.smooth_field(rng, union.shape, coarse=4)
    soft += rng.uniform(0.0, 0.1) * rng.standard_normal(union.shape).astype(np.float32)
    return np.clip(soft, 0.0, 1.0).astype(np.float32)


def make_sample(kidneys: list[np.ndarray], tumors: list[np.ndarray], rng: np.random.Generator, patch_size: int,
                negative_probability: float = 0.2, max_tries: int = 20) -> ProtrusionSample:
    """Draw one accepted sample (or, with negative_probability, a tumor-free kidney patch).

    kidneys are tumor-free kidney masks, tumors are tumor component masks, both bool
    at 1 mm. Raises RuntimeError when no accepted placement is found in max_tries.
    """
    if rng.uniform() < negative_probability:
        kidney = kidneys[int(rng.integers(len(kidneys)))]
        voxels = np.argwhere(kidney & ~ndimage.binary_erosion(kidney))
        centre = voxels[int(rng.integers(len(voxels)))] + rng.integers(-8, 9, 3)
        union = _crop(kidney, centre, patch_size)
        return ProtrusionSample(soften(union, rng), np.zeros_like(union), union)

    for _ in range(max_tries):
        kidney = kidneys[int(rng.integers(len(kidneys)))]
        tumor = tumors[int(rng.integers(len(tumors)))]
        placed = place_tumor(kidney, tumor, rng)
        if placed is None:
            continue
        k, t = placed
        if not accept_sample(k, t):
            continue
        protruded = t & ~k
        centre = np.asarray(ndimage.center_of_mass(protruded)) + rng.integers(-patch_size // 4, patch_size // 4 + 1, 3)
        union = _crop(k | t, centre, patch_size)
        target = _crop(protruded, centre, patch_size)
        return ProtrusionSample(soften(union, rng), target, union, float((k & t).sum() / k.sum()),
                                float(protruded.sum() / t.sum()))
    raise RuntimeError(f"no accepted kidney/tumor placement in {max_tries} tries")


class ProtrusionDataset:
    """A fixed-size synthetic PDN dataset, generated on the fly.

    Sample i comes from a generator seeded with (seed, i), so the same index always
    gives the same sample, whatever was drawn before.
    """

    def __init__(self, kidneys: list[np.ndarray], tumors: list[np.ndarray], seed: int, patch_size: int,
                 size: int = DEFAULT_DATASET_SIZE):
        self.kidneys, self.tumors = kidneys, tumors
        self.seed, self.patch_size, self.size = seed, patch_size, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> ProtrusionSample:
        if not 0 <= index < self.size:
            raise IndexError(f"sample {index} is outside 0..{self.size - 1}")
        rng = np.random.default_rng([self.seed, index])
        return make_sample(self.kidneys, self.tumors, rng, self.patch_size)


def _crop(mask: np.ndarray, centre, size: int) -> np.ndarray:
    corner = tuple(int(round(c)) - size // 2 for c in centre)
    return shapes.crop_with_padding(mask, corner, (size,) * 3, False)


def shapes_for_pdn(library: kits.ShapeLibrary) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return (tumor-free kidney masks, tumor masks) from a shape library, as bool arrays."""
    kidneys = [side.labels > 0 for side in library.kidneys_without_tumor]
    if not kidneys or not library.tumors:
        raise ValueError("the shape library needs tumor-free kidneys and tumors for PDN samples")
    return kidneys, list(library.tumors)
