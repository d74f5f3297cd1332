"""KiTS kidney, tumor and cyst masks, reoriented to LPS [z, y, x] and resampled to 1 mm.

KiTS19 segmentations (labels 0 background, 1 kidney, 2 tumor) come at 0.44-1.04 mm in
plane and 0.5-5 mm between slices. KiTS23 adds label 3, cyst. Each case is cropped to
its labels, resampled to 1 mm isotropic and cached as .npz, so later runs load only the
small crops.

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
CYST = 3  # KiTS23 only

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_KITS_DIR = REPO_ROOT.parent / "shared" / "data" / "kits19"
DEFAULT_KITS23_DIR = REPO_ROOT.parent / "shared" / "data" / "kits23"
SPLITS_FILE = REPO_ROOT / "training" / "splits.json"
DEFAULT_CACHE_DIR = REPO_ROOT / "training" / "runs" / "cache"

# Margin in voxels around the labels that the crop keeps before resampling, so that
# interpolation at the crop border reads background.
_CROP_MARGIN_VOXELS = 4

# A connected kidney component smaller than this (at 1 mm, so mL * 1000) is treated as
# a fragment, not a kidney.
MIN_KIDNEY_VOXELS = 20_000
MIN_TUMOR_VOXELS = 300
MIN_CYST_VOXELS = 100


@dataclasses.dataclass
class KitsCase:
    """One KiTS19 case cropped to its labels at 1 mm, indexed [z, y, x] in LPS."""

    case_id: str
    labels: np.ndarray  # uint8: 0 background, 1 kidney, 2 tumor, 3 cyst (KiTS23)
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

    @property
    def has_cyst(self) -> bool:
        return bool((self.labels == CYST).any())


def case_ids_in(kits_dir: pathlib.Path) -> list[str]:
    """Return the sorted case ids ("case_00000", ...) of the masks in kits_dir.

    Both layouts count: kits_dir/case_XXXXX.nii.gz (masks only) and the KiTS19
    repository's kits_dir/case_XXXXX/segmentation.nii.gz.
    """
    kits_dir = pathlib.Path(kits_dir)
    ids = {p.name[: -len(".nii.gz")] for p in kits_dir.glob("case_*.nii.gz")}
    ids |= {p.parent.name for p in kits_dir.glob("case_*/segmentation.nii.gz")}
    return sorted(i for i in ids if re.fullmatch(r"case_\d{5}", i))


def mask_path(kits_dir: pathlib.Path, case_id: str) -> pathlib.Path:
    """Return the mask file of a case in either layout (see case_ids_in)."""
    flat = pathlib.Path(kits_dir) / f"{case_id}.nii.gz"
    nested = pathlib.Path(kits_dir) / case_id / "segmentation.nii.gz"
    return nested if not flat.exists() and nested.exists() else flat


def read_labels_lps(path: pathlib.Path, max_label: int = TUMOR) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Read a label NIfTI and return (labels[z, y, x] in LPS directions, spacing (z, y, x) mm).

    The image is first reoriented to the closest RAS axes, so an oblique affine is
    rounded to the nearest axis permutation. RAS to LPS flips x and y.
    """
    image = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asanyarray(image.dataobj)
    if data.ndim != 3:
        raise ValueError(f"{path}: expected a 3D label volume, got shape {data.shape}")
    if data.max() > max_label:
        raise ValueError(f"{path}: label {int(data.max())} is outside 0..{max_label} "
                         f"(background, kidney, tumor{', cyst' if max_label >= CYST else ''})")
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

    The whole organ (any label) and then each mass label (tumor, cyst) is interpolated
    linearly as a 0/1 volume and thresholded at 0.5. Compared with nearest-neighbour
    interpolation, this keeps 5 mm slices from turning into 5 mm steps on the kidney
    surface.
    """
    factors = np.asarray(spacing_mm, dtype=np.float64)
    out_shape = tuple(max(1, int(round(n * f))) for n, f in zip(labels.shape, factors))
    zoom = [o / n for o, n in zip(out_shape, labels.shape)]
    out = np.zeros(out_shape, np.uint8)
    for label in (KIDNEY, TUMOR, CYST):
        region = (labels >= 1) if label == KIDNEY else (labels == label)
        if label != KIDNEY and not region.any():
            continue
        region = region.astype(np.float32)
        resampled = ndimage.zoom(region, zoom, order=1, mode="grid-constant", cval=0.0, grid_mode=True)
        out[resampled >= 0.5] = label
    return out


def load_case(case_id: str, kits_dir: pathlib.Path = DEFAULT_KITS_DIR,
              cache_dir: pathlib.Path = DEFAULT_CACHE_DIR, dataset: str = "kits19") -> KitsCase:
    """Load one case at 1 mm, from the cache when present, else from kits_dir.

    dataset is "kits19" (labels 0-2) or "kits23" (labels 0-3, with cysts).
    """
    if dataset not in ("kits19", "kits23"):
        raise ValueError(f"unknown dataset {dataset!r}; use kits19 or kits23")
    cache_file = pathlib.Path(cache_dir) / f"{dataset}_1mm" / f"{case_id}.npz"
    if cache_file.exists():
        with np.load(cache_file) as cached:
            return KitsCase(case_id, cached["labels"], tuple(float(s) for s in cached["spacing_mm"]))

    path = mask_path(kits_dir, case_id)
    if not path.exists():
        raise FileNotFoundError(f"{dataset} mask {path} not found; pass --kits-dir/--kits23-dir pointing at "
                                f"the {dataset} folder")
    labels, spacing = read_labels_lps(path, CYST if dataset == "kits23" else TUMOR)
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


def tumor_components(labels: np.ndarray, min_voxels: int = MIN_TUMOR_VOXELS, label: int = TUMOR) -> list[np.ndarray]:
    """Return each connected region of label (tumor by default) of at least min_voxels, cropped to its box."""
    components, count = ndimage.label(labels == label)
    tumors = []
    for k in range(1, count + 1):
        mask = components == k
        if mask.sum() < min_voxels:
            continue
        tumors.append(mask[bounding_box(mask, 1)].copy())
    return tumors


@dataclasses.dataclass
class ShapeLibrary:
    """Kidney, tumor and cyst shapes gathered from a set of KiTS19 and KiTS23 cases."""

    cases: list[KitsCase]
    two_kidney_cases: list[KitsCase]  # KiTS19 cases whose kidneys are separate components
    kidneys_without_tumor: list[KidneySide]  # sides with neither tumor nor cyst
    kidneys_with_tumor: list[KidneySide]  # sides with a tumor or a cyst
    tumors: list[np.ndarray]
    tumor_case_ids: list[str]
    cysts: list[np.ndarray] = dataclasses.field(default_factory=list)  # KiTS23 cyst components
    cyst_case_ids: list[str] = dataclasses.field(default_factory=list)


def load_shape_library(case_ids: list[str], kits_dir: pathlib.Path = DEFAULT_KITS_DIR,
                       cache_dir: pathlib.Path = DEFAULT_CACHE_DIR, kits23_ids: list[str] = (),
                       kits23_dir: pathlib.Path = DEFAULT_KITS23_DIR) -> ShapeLibrary:
    """Load the given cases and sort their kidneys, tumors and cysts into a ShapeLibrary.

    KiTS23 cases add tumor-free kidneys, tumors and cysts, but are not used as the
    kidney pair of a phantom.
    """
    library = ShapeLibrary([], [], [], [], [], [])
    for dataset, ids, folder in (("kits19", case_ids, kits_dir), ("kits23", kits23_ids, kits23_dir)):
        for case_id in ids:
            case = load_case(case_id, folder, cache_dir, dataset)
            library.cases.append(case)
            sides = split_kidney_sides(case)
            if dataset == "kits19" and len(sides) == 2 and {s.side for s in sides} == {"right", "left"}:
                library.two_kidney_cases.append(case)
            for side in sides:
                clean = not side.has_tumor and not side.has_cyst
                (library.kidneys_without_tumor if clean else library.kidneys_with_tumor).append(side)
            for tumor in tumor_components(case.labels):
                library.tumors.append(tumor)
                library.tumor_case_ids.append(case_id)
            for cyst in tumor_components(case.labels, label=CYST, min_voxels=MIN_CYST_VOXELS):
                library.cysts.append(cyst)
                library.cyst_case_ids.append(case_id)
    return library


def load_splits(path: pathlib.Path = SPLITS_FILE) -> dict:
    """Read the fixed case split: {"kits19": {"train": [...], "validation": [...], "test": [...]}, "kits23": ...}."""
    import json

    splits = json.loads(pathlib.Path(path).read_text())
    for dataset in ("kits19", "kits23"):
        parts = splits.get(dataset)
        if not isinstance(parts, dict) or set(parts) != {"train", "validation", "test"}:
            raise ValueError(f"{path}: {dataset} needs exactly the lists train, validation and test")
        seen = [c for part in parts.values() for c in part]
        if len(seen) != len(set(seen)):
            raise ValueError(f"{path}: a {dataset} case is listed in two parts")
    return splits


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
