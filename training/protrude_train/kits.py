"""KiTS19 kidney and tumor masks, reoriented to LPS [z, y, x] and resampled to 1 mm.

KiTS19 segmentations (labels 0 background, 1 kidney, 2 tumor) come at 0.44-1.04 mm in
plane and 0.5-5 mm between slices. Each case is cropped to its labels, resampled to
1 mm isotropic and cached as .npz, so later runs load only the small crops.

KiTS19 data are licensed CC BY-NC-SA 4.0. Cite Heller et al., "The state of the art in
kidney and kidney tumor segmentation in contrast-enhanced CT imaging: Results of the
KiTS19 challenge", Medical Image Analysis 67 (2021).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import nibabel as nib
import numpy as np
from scipy import ndimage

KIDNEY = 1
TUMOR = 2

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_KITS_DIR = REPO_ROOT.parent / "shared" / "data" / "kits19"
DEFAULT_CACHE_DIR = REPO_ROOT / "training" / "runs" / "cache"

# Margin in voxels around the labels that the crop keeps before resampling, so that
# interpolation at the crop border reads background.
_CROP_MARGIN_VOXELS = 4

# A connected kidney component smaller than this (at 1 mm, so mL * 1000) is treated as
# a fragment, not a kidney.
MIN_KIDNEY_VOXELS = 20_000
MIN_TUMOR_VOXELS = 300


@dataclasses.dataclass
class KitsCase:
    """One KiTS19 case cropped to its labels at 1 mm, indexed [z, y, x] in LPS."""

    case_id: str
    labels: np.ndarray  # uint8: 0 background, 1 kidney, 2 tumor
    source_spacing_mm: tuple[float, float, float]  # (z, y, x) before resampling


@dataclasses.dataclass
class KidneySide:
    """One kidney (with any tumor on it) cut out of a case, labels as in KitsCase."""

    case_id: str
    side: str  # "right" or "left" of the patient
    labels: np.ndarray
    offset_mm: tuple[int, int, int]  # corner of the crop inside the case crop, (z, y, x)

    @property
    def has_tumor(self) -> bool:
        return bool((self.labels == TUMOR).any())


def case_ids_in(kits_dir: pathlib.Path) -> list[str]:
    """Return the sorted case ids ("case_00000", ...) of the masks in kits_dir."""
    ids = sorted(p.name[: -len(".nii.gz")] for p in kits_dir.glob("case_*.nii.gz"))
    return [i for i in ids if re.fullmatch(r"case_\d{5}", i)]


def read_labels_lps(path: pathlib.Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Read a label NIfTI and return (labels[z, y, x] in LPS directions, spacing (z, y, x) mm).

    The image is first reoriented to the closest RAS axes, so an oblique affine is
    rounded to the nearest axis permutation. RAS to LPS flips x and y.
    """
    image = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asanyarray(image.dataobj)
    if data.ndim != 3:
        raise ValueError(f"{path}: expected a 3D label volume, got shape {data.shape}")
    if data.max() > TUMOR:
        raise ValueError(f"{path}: label {int(data.max())} is outside 0..2 (background, kidney, tumor)")
    labels = np.ascontiguousarray(data[::-1, ::-1, :].transpose(2, 1, 0).astype(np.uint8))
    zooms = image.header.get_zooms()[:3]
    return labels, (float(zooms[2]), float(zooms[1]), float(zooms[0]))


def bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...]:
    """Return the slices of the smallest box holding all true voxels, grown by margin."""
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        if hits.size == 0:
            raise ValueError("bounding_box: mask has no true voxel")
        box.append(slice(max(0, hits[0] - margin), min(mask.shape[axis], hits[-1] + 1 + margin)))
    return tuple(box)


def resample_labels_to_1mm(labels: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """Resample a label volume to 1 mm isotropic.

    Each nested region (kidney or tumor, then tumor) is interpolated linearly as a
    0/1 volume and thresholded at 0.5. Compared with nearest-neighbour interpolation,
    this keeps 5 mm slices from turning into 5 mm steps on the kidney surface.
    """
    factors = np.asarray(spacing_mm, dtype=np.float64)
    out_shape = tuple(max(1, int(round(n * f))) for n, f in zip(labels.shape, factors))
    zoom = [o / n for o, n in zip(out_shape, labels.shape)]
    out = np.zeros(out_shape, np.uint8)
    for label in (KIDNEY, TUMOR):
        region = (labels >= label).astype(np.float32)
        resampled = ndimage.zoom(region, zoom, order=1, mode="grid-constant", cval=0.0, grid_mode=True)
        out[resampled >= 0.5] = label
    return out


def load_case(case_id: str, kits_dir: pathlib.Path = DEFAULT_KITS_DIR,
              cache_dir: pathlib.Path = DEFAULT_CACHE_DIR) -> KitsCase:
    """Load one case at 1 mm, from the cache when present, else from kits_dir."""
    cache_file = pathlib.Path(cache_dir) / "kits19_1mm" / f"{case_id}.npz"
    if cache_file.exists():
        with np.load(cache_file) as cached:
            return KitsCase(case_id, cached["labels"], tuple(float(s) for s in cached["spacing_mm"]))

    path = pathlib.Path(kits_dir) / f"{case_id}.nii.gz"
    if not path.exists():
        raise FileNotFoundError(f"KiTS19 mask {path} not found; pass --kits-dir pointing at the kits19 folder")
    labels, spacing = read_labels_lps(path)
    labels = labels[bounding_box(labels > 0, _CROP_MARGIN_VOXELS)]
    labels = resample_labels_to_1mm(labels, spacing)
    labels = labels[bounding_box(labels > 0, _CROP_MARGIN_VOXELS)]

    cache_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache_file.with_suffix(".tmp.npz")
    np.savez_compressed(temporary, labels=labels, spacing_mm=np.asarray(spacing))
    temporary.replace(cache_file)
    return KitsCase(case_id, labels, spacing)


def split_kidney_sides(case: KitsCase) -> list[KidneySide]:
    """Split a case into its kidneys by connected components of kidney-or-tumor.

    Components smaller than MIN_KIDNEY_VOXELS are dropped. The side comes from the
    component's centroid relative to the midpoint of all kept components: low x is the
    patient's right. A case with one component is returned as one side, judged by the
    position of that component in the crop. That side is ambiguous, so callers that
    need sides should use cases with two components.
    """
    components, count = ndimage.label(case.labels > 0)
    if count == 0:
        return []
    sizes = ndimage.sum_labels(np.ones_like(components), components, index=np.arange(1, count + 1))
    kept = [index + 1 for index in np.argsort(sizes)[::-1][:2] if sizes[index] >= MIN_KIDNEY_VOXELS]
    centroids = {k: ndimage.center_of_mass(components == k) for k in kept}
    middle_x = np.mean([c[2] for c in centroids.values()]) if len(kept) == 2 else case.labels.shape[2] / 2
    sides = []
    for k in kept:
        box = bounding_box(components == k, 2)
        cut = np.where(components[box] == k, case.labels[box], 0).astype(np.uint8)
        side = "right" if centroids[k][2] < middle_x else "left"
        sides.append(KidneySide(case.case_id, side, cut, tuple(s.start for s in box)))
    return sides


def tumor_components(labels: np.ndarray, min_voxels: int = MIN_TUMOR_VOXELS) -> list[np.ndarray]:
    """Return each connected tumor region of at least min_voxels, cropped to its box, as bool."""
    components, count = ndimage.label(labels == TUMOR)
    tumors = []
    for k in range(1, count + 1):
        mask = components == k
        if mask.sum() < min_voxels:
            continue
        tumors.append(mask[bounding_box(mask, 1)].copy())
    return tumors


@dataclasses.dataclass
class ShapeLibrary:
    """Kidney and tumor shapes gathered from a set of KiTS19 cases."""

    cases: list[KitsCase]
    two_kidney_cases: list[KitsCase]  # cases whose kidneys are separate components
    kidneys_without_tumor: list[KidneySide]
    kidneys_with_tumor: list[KidneySide]
    tumors: list[np.ndarray]
    tumor_case_ids: list[str]


def load_shape_library(case_ids: list[str], kits_dir: pathlib.Path = DEFAULT_KITS_DIR,
                       cache_dir: pathlib.Path = DEFAULT_CACHE_DIR) -> ShapeLibrary:
    """Load the given cases and sort their kidneys and tumors into a ShapeLibrary."""
    library = ShapeLibrary([], [], [], [], [], [])
    for case_id in case_ids:
        case = load_case(case_id, kits_dir, cache_dir)
        library.cases.append(case)
        sides = split_kidney_sides(case)
        if len(sides) == 2 and {s.side for s in sides} == {"right", "left"}:
            library.two_kidney_cases.append(case)
        for side in sides:
            (library.kidneys_with_tumor if side.has_tumor else library.kidneys_without_tumor).append(side)
        for tumor in tumor_components(case.labels):
            library.tumors.append(tumor)
            library.tumor_case_ids.append(case_id)
    return library


def split_case_ids(case_ids: list[str], validation_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split case ids into (training, validation) reproducibly, so no shape is in both."""
    order = np.random.default_rng(seed).permutation(len(case_ids))
    count = max(1, int(round(len(case_ids) * validation_fraction)))
    validation = sorted(case_ids[i] for i in order[:count])
    training = sorted(case_ids[i] for i in order[count:])
    return training, validation


def main() -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Fill the 1 mm KiTS19 cache.")
    parser.add_argument("--kits-dir", type=pathlib.Path, default=DEFAULT_KITS_DIR,
                        help="folder with KiTS19 case_XXXXX.nii.gz masks")
    parser.add_argument("--cache-dir", type=pathlib.Path, default=DEFAULT_CACHE_DIR,
                        help="folder for the 1 mm .npz crops")
    parser.add_argument("--limit", type=int, default=0, help="load only the first N cases (0: all)")
    args = parser.parse_args()

    ids = case_ids_in(args.kits_dir)
    if args.limit:
        ids = ids[: args.limit]
    start = time.time()
    for number, case_id in enumerate(ids, 1):
        case = load_case(case_id, args.kits_dir, args.cache_dir)
        sides = split_kidney_sides(case)
        print(f"{number}/{len(ids)} {case_id} shape={case.labels.shape} "
              f"spacing={case.source_spacing_mm} sides={[(s.side, s.has_tumor) for s in sides]} "
              f"elapsed={time.time() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
