"""Training data: the fixed KiTS case split, phantom pools and batch samplers."""

from __future__ import annotations

import pathlib

import numpy as np
import torch

from . import kits, phantoms, protrusion_data
from .config import TrainConfig

# Seeds of validation phantoms are offset so they never repeat a training seed.
VALIDATION_SEED_OFFSET = 1_000_000


def split_ids(config: TrainConfig, part: str, dataset: str = "kits19") -> list[str]:
    """Return the case ids of one part ("train", "validation" or "test") of training/splits.json.

    Only cases whose masks exist are returned. With config.max_cases, the parts are cut
    to that many cases in total, split by validation_fraction (for quick tests).
    """
    folder = pathlib.Path(config.kits_dir if dataset == "kits19" else config.kits23_dir)
    if dataset == "kits23" and not config.use_kits23:
        return []
    present = set(kits.case_ids_in(folder))
    if not present:
        raise FileNotFoundError(f"no case_XXXXX.nii.gz masks in {folder}; set --kits-dir / --kits23-dir")
    ids = [c for c in kits.load_splits(pathlib.Path(config.splits_file))[dataset][part] if c in present]
    if config.max_cases:
        share = config.validation_fraction if part != "train" else 1.0 - config.validation_fraction
        ids = ids[: max(1, int(round(config.max_cases * share)))]
    return ids


def case_split(config: TrainConfig) -> tuple[list[str], list[str]]:
    """Return (training, validation) KiTS19 case ids from the fixed split."""
    return split_ids(config, "train"), split_ids(config, "validation")


def load_library(config: TrainConfig, case_ids: list[str], kits23_ids: list[str] = ()) -> kits.ShapeLibrary:
    return kits.load_shape_library(case_ids, pathlib.Path(config.kits_dir), pathlib.Path(config.cache_dir),
                                   list(kits23_ids), pathlib.Path(config.kits23_dir))


def phantom_pool(config: TrainConfig, library: kits.ShapeLibrary, seeds: list[int],
                 store_dir: pathlib.Path | None, log=print) -> list[phantoms.Phantom]:
    """Generate phantoms for the given seeds, reusing copies saved under store_dir."""
    options = phantoms.PhantomOptions(shape_zyx=config.phantom_shape_zyx)
    pool = []
    for number, seed in enumerate(seeds):
        path = store_dir / f"phantom_{seed}.npz" if store_dir else None
        if path is not None and path.exists():
            pool.append(phantoms.load_phantom(path))
            continue
        phantom = phantoms.generate_phantom(seed, library, options)
        if path is not None:
            phantoms.save_phantom(phantom, path)
        pool.append(phantom)
        log(f"phantom {number + 1}/{len(seeds)} seed={seed} case={phantom.case_id} shape={phantom.tissues.shape} "
            f"tumors={[(t.kind, round(t.volume_ml, 1)) for t in phantom.tumors]}")
    return pool


class PhantomPatchSampler:
    """Draws rendered patches from a phantom pool, for the base and joint stages."""

    def __init__(self, pool: list[phantoms.Phantom], config: TrainConfig, rng: np.random.Generator):
        self.pool = pool
        self.config = config
        self.rng = rng
        # Candidate centres per phantom, subsampled to keep memory small.
        self.kidney_voxels = [self._subsample(np.argwhere(p.kidney_mask)) for p in pool]
        self.tumor_voxels = [self._subsample(np.argwhere(p.tumor_mask)) for p in pool]
        self.body_voxels = [self._subsample(np.argwhere(p.tissues[:, ::4, ::4] != phantoms.Tissue.OUTSIDE) * [1, 4, 4])
                            for p in pool]

    def _subsample(self, voxels: np.ndarray, count: int = 20000) -> np.ndarray:
        if len(voxels) <= count:
            return voxels
        return voxels[self.rng.choice(len(voxels), count, replace=False)]

    def sample(self, batch_size: int, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (images [B,1,P,P,P], targets [B,2,P,P,P] with kidney and tumor channels)."""
        images, targets = [], []
        for _ in range(batch_size):
            index = int(self.rng.integers(len(self.pool)))
            draw = self.rng.uniform()
            if draw < self.config.tumor_patch_fraction and len(self.tumor_voxels[index]):
                candidates = self.tumor_voxels[index]
            elif draw < self.config.tumor_patch_fraction + self.config.kidney_patch_fraction:
                candidates = self.kidney_voxels[index]
            else:
                candidates = self.body_voxels[index]
            centre = candidates[int(self.rng.integers(len(candidates)))]
            centre = centre + self.rng.integers(-patch_size // 4, patch_size // 4 + 1, 3)
            params = phantoms.draw_render_params(
                self.pool[index], self.rng,
                isodense_context_probability=self.config.isodense_context_probability)
            image, kidney, tumor = phantoms.sample_patch(self.pool[index], centre, patch_size, self.rng, params)
            images.append(image[None])
            targets.append(np.stack([kidney, tumor]).astype(np.float32))
        return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(targets))


class ProtrusionSampler:
    """Draws random samples of the synthetic PDN dataset (protrusion_data.ProtrusionDataset)."""

    def __init__(self, library: kits.ShapeLibrary, rng: np.random.Generator, seed: int = 0,
                 size: int = protrusion_data.DEFAULT_DATASET_SIZE):
        self.kidneys, self.tumors = protrusion_data.shapes_for_pdn(library)
        self.rng = rng
        self.seed = seed
        self.size = size
        self.datasets: dict[int, protrusion_data.ProtrusionDataset] = {}

    def sample(self, batch_size: int, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (soft kidney maps [B,1,P,P,P], protrusion targets [B,1,P,P,P])."""
        if patch_size not in self.datasets:
            self.datasets[patch_size] = protrusion_data.ProtrusionDataset(self.kidneys, self.tumors, self.seed,
                                                                          patch_size, self.size)
        dataset = self.datasets[patch_size]
        inputs, targets = [], []
        for _ in range(batch_size):
            sample = dataset[int(self.rng.integers(len(dataset)))]
            inputs.append(sample.soft_input[None])
            targets.append(sample.target[None].astype(np.float32))
        return torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(targets))
