"""KiTS19 CT volumes for training on real scans, for users who have the data.

Layout, as the KiTS19 repository ships it:

    DATA/case_00000/imaging.nii.gz        CT in HU
    DATA/case_00000/segmentation.nii.gz   0 background, 1 kidney, 2 tumor

KiTS19's public images are contrast-enhanced. The method was trained on the
non-contrast series of the same patients, with the masks transferred onto them, plus
the contrast-enhanced images. So each case's phase comes from a small table that the
user writes, DATA/phases.csv by default:

    case_id,phase
    case_00000,noncontrast
    case_00001,contrast

Only cases listed in the table are used. Volumes are reoriented to LPS [z, y, x] the way
kits.read_labels_lps does it, resampled to 1 mm (linear for HU, per-label linear and
threshold for the masks) and cached as .npz under the cache folder.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib

import nibabel as nib
import numpy as np
import torch
from scipy import ndimage

from . import kits, phantoms, shapes

PHASES = ("noncontrast", "contrast")
# Air value for padding outside the scanned volume, in HU.
AIR_HU = -1024.0


@dataclasses.dataclass
class CTCase:
    """One case at 1 mm: HU image and labels, both [z, y, x] in LPS."""

    case_id: str
    phase: str
    image_hu: np.ndarray  # int16 HU
    labels: np.ndarray  # uint8, 0 background, 1 kidney, 2 tumor


def read_phase_table(path: pathlib.Path) -> dict[str, str]:
    """Read case_id,phase rows; every phase must be noncontrast or contrast."""
    path = pathlib.Path(path)
    phases: dict[str, str] = {}
    with path.open(newline="") as stream:
        reader = csv.DictReader(stream)
        if reader.fieldnames is None or not {"case_id", "phase"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: the header must name the columns case_id and phase, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            case_id, phase = row["case_id"].strip(), row["phase"].strip().lower()
            if phase not in PHASES:
                raise ValueError(f"{path}:{line}: phase {row['phase']!r} for {case_id}; use one of {PHASES}")
            if case_id in phases:
                raise ValueError(f"{path}:{line}: {case_id} is listed twice")
            phases[case_id] = phase
    if not phases:
        raise ValueError(f"{path}: no cases listed")
    return phases


def _read_lps(path: pathlib.Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    image = nib.as_closest_canonical(nib.load(str(path)))
    data = np.asanyarray(image.dataobj)
    if data.ndim != 3:
        raise ValueError(f"{path}: expected a 3D volume, got shape {data.shape}")
    zooms = image.header.get_zooms()[:3]
    return (np.ascontiguousarray(data[::-1, ::-1, :].transpose(2, 1, 0)),
            (float(zooms[2]), float(zooms[1]), float(zooms[0])))


def load_ct_case(data_dir: pathlib.Path, case_id: str, phase: str, cache_dir: pathlib.Path) -> CTCase:
    """Load one case at 1 mm, from the cache when present."""
    cache_file = pathlib.Path(cache_dir) / "kits19_ct_1mm" / f"{case_id}.npz"
    if cache_file.exists():
        with np.load(cache_file) as cached:
            return CTCase(case_id, phase, cached["image_hu"], cached["labels"])

    folder = pathlib.Path(data_dir) / case_id
    image_path, labels_path = folder / "imaging.nii.gz", folder / "segmentation.nii.gz"
    for path in (image_path, labels_path):
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: expected the KiTS19 layout DATA/{case_id}/"
                                    f"{{imaging,segmentation}}.nii.gz")
    image, spacing = _read_lps(image_path)
    labels, label_spacing = _read_lps(labels_path)
    if image.shape != labels.shape or not np.allclose(spacing, label_spacing, rtol=1e-3):
        raise ValueError(f"{case_id}: imaging {image.shape} at {spacing} mm and segmentation {labels.shape} at "
                         f"{label_spacing} mm differ")
    if labels.max() > kits.TUMOR:
        raise ValueError(f"{labels_path}: label {int(labels.max())} is outside 0..2")
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise ValueError(f"{image_path}: {int((~np.isfinite(image)).sum())} voxels are NaN or infinite")

    zoom = [s / 1.0 for s in spacing]
    out_shape = tuple(max(1, int(round(n * z))) for n, z in zip(image.shape, zoom))
    factors = [o / n for o, n in zip(out_shape, image.shape)]
    image_1mm = ndimage.zoom(image, factors, order=1, mode="nearest", grid_mode=True)
    labels_1mm = kits.resample_labels_to_1mm(labels.astype(np.uint8), spacing)
    region = tuple(slice(0, min(a, b)) for a, b in zip(image_1mm.shape, labels_1mm.shape))
    case = CTCase(case_id, phase, np.clip(np.rint(image_1mm[region]), -32768, 32767).astype(np.int16),
                  labels_1mm[region])

    cache_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache_file.with_suffix(".tmp.npz")
    np.savez_compressed(temporary, image_hu=case.image_hu, labels=case.labels)
    temporary.replace(cache_file)
    return case


def load_ct_cases(data_dir: pathlib.Path, phase_table: pathlib.Path, case_ids: list[str],
                  cache_dir: pathlib.Path, log=print) -> list[CTCase]:
    """Load the cases of case_ids that the phase table lists; log the count per phase."""
    phases = read_phase_table(phase_table)
    cases = []
    for case_id in case_ids:
        if case_id not in phases:
            continue
        cases.append(load_ct_case(data_dir, case_id, phases[case_id], cache_dir))
        log(f"CT case {case_id} ({phases[case_id]}) shape={cases[-1].image_hu.shape}")
    if not cases:
        raise ValueError(f"none of the {len(case_ids)} cases is listed in {phase_table}")
    counts = {p: sum(c.phase == p for c in cases) for p in PHASES}
    log(f"CT cases by phase: {counts}")
    return cases


def augment(image_hu: np.ndarray, labels: np.ndarray, rng: np.random.Generator, max_angle_deg: float = 15.0,
            scale_range=(0.85, 1.15), noise_hu=(0.0, 15.0)) -> tuple[np.ndarray, np.ndarray]:
    """Random rotation and scaling about the patch centre, then Gaussian noise.

    image_hu is float32 HU and labels uint8, both cubic. Returns arrays of the same shape.
    """
    matrix = np.linalg.inv(shapes.random_rotation_scale(rng, max_angle_deg, scale_range))
    centre = (np.asarray(image_hu.shape) - 1) / 2
    offset = centre - matrix @ centre
    image = ndimage.affine_transform(image_hu, matrix, offset, order=1, mode="constant", cval=AIR_HU)
    moved = ndimage.affine_transform(labels, matrix, offset, order=0, mode="constant", cval=0)
    image += rng.uniform(*noise_hu) * rng.standard_normal(image.shape).astype(np.float32)
    return image.astype(np.float32), moved


class CTPatchSampler:
    """Draws augmented patches from real CT cases, with the interface of data.PhantomPatchSampler."""

    def __init__(self, cases: list[CTCase], config, rng: np.random.Generator):
        self.cases = cases
        self.config = config
        self.rng = rng
        self.kidney_voxels = [self._subsample(np.argwhere(c.labels > 0)) for c in cases]
        self.tumor_voxels = [self._subsample(np.argwhere(c.labels == kits.TUMOR)) for c in cases]
        self.body_voxels = [self._subsample(np.argwhere(c.image_hu[:, ::4, ::4] > -500) * [1, 4, 4]) for c in cases]

    def _subsample(self, voxels: np.ndarray, count: int = 20000) -> np.ndarray:
        if len(voxels) <= count:
            return voxels
        return voxels[self.rng.choice(len(voxels), count, replace=False)]

    def sample(self, batch_size: int, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (images [B,1,P,P,P] normalized, targets [B,2,P,P,P] kidney and tumor)."""
        images, targets = [], []
        for _ in range(batch_size):
            index = int(self.rng.integers(len(self.cases)))
            case = self.cases[index]
            draw = self.rng.uniform()
            if draw < self.config.tumor_patch_fraction and len(self.tumor_voxels[index]):
                candidates = self.tumor_voxels[index]
            elif draw < self.config.tumor_patch_fraction + self.config.kidney_patch_fraction and len(
                    self.kidney_voxels[index]):
                candidates = self.kidney_voxels[index]
            else:
                candidates = self.body_voxels[index]
            centre = candidates[int(self.rng.integers(len(candidates)))]
            centre = centre + self.rng.integers(-patch_size // 4, patch_size // 4 + 1, 3)
            # Crop with a margin so rotation does not bring the padding into the patch.
            margin = patch_size // 4
            size = (patch_size + 2 * margin,) * 3
            corner = tuple(int(c) - patch_size // 2 - margin for c in centre)
            image = shapes.crop_with_padding(case.image_hu, corner, size, AIR_HU).astype(np.float32)
            labels = shapes.crop_with_padding(case.labels, corner, size, 0)
            image, labels = augment(image, labels, self.rng)
            inner = (slice(margin, margin + patch_size),) * 3
            image, labels = image[inner], labels[inner]
            images.append(phantoms.normalize_hu(image)[None])
            targets.append(np.stack([labels > 0, labels == kits.TUMOR]).astype(np.float32))
        return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(targets))
