"""Training configuration and presets."""

from __future__ import annotations

import dataclasses
import json
import pathlib

from . import kits


@dataclasses.dataclass
class StageConfig:
    """Optimizer and sampling settings of one training stage."""

    steps: int
    batch_size: int
    patch_size: int  # cubic training patch side in voxels (1 mm); a multiple of 32
    peak_lr: float = 0.1
    start_lr: float = 1e-4
    warmup_fraction: float = 0.3
    optimizer: str = "sgd"  # "sgd" (momentum, the published recipe) or "adam"


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on, besides the seed's random draws."""

    preset: str
    base: StageConfig
    protuberance: StageConfig
    joint: StageConfig
    seed: int = 0
    kits_dir: str = str(kits.DEFAULT_KITS_DIR)
    kits23_dir: str = str(kits.DEFAULT_KITS23_DIR)
    use_kits23: bool = True  # KiTS23 adds tumor-free kidneys, tumors and cyst shapes
    splits_file: str = str(kits.SPLITS_FILE)
    # Real KiTS19 CT (DATA/case_XXXXX/{imaging,segmentation}.nii.gz) instead of phantoms
    # for the base and joint stages, with a case_id,phase table; see kits_ct.py.
    ct_data_dir: str | None = None
    phase_table: str | None = None
    cache_dir: str = str(kits.DEFAULT_CACHE_DIR)
    max_cases: int = 0  # use only about N KiTS19 cases of the split (0: all), for quick tests
    validation_fraction: float = 0.25  # with max_cases, the share of those N used for validation
    phantom_pool_size: int = 16  # training phantoms generated once, re-rendered per patch
    validation_phantoms: int = 4
    phantom_shape_zyx: tuple[int, int, int] | None = None  # fixed phantom size, or None to fit the body
    base_channels: int = 16
    protuberance_channels: int = 8
    fusion_channels: int = 16
    channel_cap: int = 64
    momentum: float = 0.9
    weight_decay: float = 1e-7
    gradient_clip_norm: float = 12.0
    protrusion_dataset_size: int = 10_000  # synthetic PDN samples, each fixed by (seed, index)
    label_smoothing: float = 0.1  # PDN targets become 0.05 / 0.95 for 0.1
    # Weight w of the protruded voxels (about 5 % of a patch) in the PDN's cross-entropy.
    # With label smoothing s, background voxels are best at w*s/2 / (w*s/2 + 1 - s/2).
    protrusion_positive_weight: float = 1.0
    kidney_patch_fraction: float = 0.5  # base patches centred on a kidney voxel
    tumor_patch_fraction: float = 0.2  # base patches centred on a tumor voxel; the rest anywhere in the body
    # Share of base and joint training renderings whose soft tissues around the kidney
    # are drawn near the kidney's HU (phantoms.draw_render_params).
    isodense_context_probability: float = 0.0
    joint_backprop_through_pdn: bool = True  # gradients reach the base net through the frozen PDN
    checkpoint_every: int = 50
    export_patch_size: int = 96  # ONNX input side; the networks are fully convolutional
    validation_patch_size: int = 96
    threads: int = 2
    # A bundle folder whose ONNX weights initialize all three networks (warmstart.py), so a
    # short run continues an earlier one; None starts from random weights.
    init_from: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        raw = json.loads(text)
        for stage in ("base", "protuberance", "joint"):
            raw[stage] = StageConfig(**raw[stage])
        if raw.get("phantom_shape_zyx") is not None:
            raw["phantom_shape_zyx"] = tuple(raw["phantom_shape_zyx"])
        return cls(**raw)


def _skeleton() -> TrainConfig:
    # About 30 minutes on 2 CPU cores: enough to run the whole pipeline and ship demo
    # weights, far short of convergence. All three stages use the published optimizer,
    # SGD with momentum 0.9 and the warm-up plus cosine schedule.
    return TrainConfig(
        preset="skeleton",
        base=StageConfig(steps=600, batch_size=2, patch_size=64),
        protuberance=StageConfig(steps=250, batch_size=2, patch_size=64, warmup_fraction=0.1),
        joint=StageConfig(steps=120, batch_size=1, patch_size=64),
    )


def _cpu() -> TrainConfig:
    # Sized to finish in about 90 minutes on 2 CPU cores (torch 1.13, 2 threads), so that a
    # run, its evaluation and the bundle fit in one working session. 64-voxel patches keep
    # a step near 1.7 s for the base network; inference uses 96-voxel windows. The joint
    # stage gets the most steps after the base stage, because the fusion network learns
    # only there; 40 % of base patches are drawn anywhere in the body, to teach the base
    # network what is not kidney.
    return TrainConfig(
        preset="cpu",
        base=StageConfig(steps=1500, batch_size=2, patch_size=64),
        protuberance=StageConfig(steps=600, batch_size=2, patch_size=64, warmup_fraction=0.1),
        joint=StageConfig(steps=800, batch_size=1, patch_size=64),
        phantom_pool_size=24,
        checkpoint_every=100,
        kidney_patch_fraction=0.4,
    )


def _finetune() -> TrainConfig:
    # Continues a bundle (train --init-from, required) on phantoms whose neighbouring
    # soft tissues are often as dense as the kidney, to break the first demo weights'
    # habit of calling any tissue at kidney density kidney. The protuberance network's
    # input is a mask only, so it keeps the bundle's weights (0 steps). The peak learning rate
    # is half the published 0.1, because the weights start trained; warm-up and cosine
    # decay follow the published schedule. About 90 minutes on 2 CPU cores.
    return TrainConfig(
        preset="finetune",
        base=StageConfig(steps=1800, batch_size=2, patch_size=64, peak_lr=0.05),
        protuberance=StageConfig(steps=0, batch_size=2, patch_size=64, warmup_fraction=0.1),
        joint=StageConfig(steps=700, batch_size=1, patch_size=64, peak_lr=0.05),
        phantom_pool_size=24,
        checkpoint_every=100,
        kidney_patch_fraction=0.4,
        isodense_context_probability=0.6,
    )


def _protrusion() -> TrainConfig:
    # Continues a bundle (train --init-from, required) whose protuberance network never
    # learned: it retrains that network for longer, with protruded voxels weighted 4x in
    # the cross-entropy, then runs the joint stage so that the fusion network learns to
    # use the protrusion. The base network keeps the bundle's weights until the joint
    # stage. About 80 minutes on 2 CPU cores.
    return TrainConfig(
        preset="protrusion",
        base=StageConfig(steps=0, batch_size=2, patch_size=64),
        protuberance=StageConfig(steps=2200, batch_size=2, patch_size=64, warmup_fraction=0.1),
        joint=StageConfig(steps=800, batch_size=1, patch_size=64, peak_lr=0.05),
        phantom_pool_size=24,
        checkpoint_every=100,
        kidney_patch_fraction=0.4,
        protrusion_positive_weight=4.0,
    )


def _paper() -> TrainConfig:
    # The published schedule: batch sizes 8 / 16 / 4 and 250k / 100k / 100k steps. This
    # needs a GPU and the KiTS19 CT volumes (see training/README.md). The patch size here
    # is an estimate of what fits a 24 GB GPU, not a number from the paper.
    return TrainConfig(
        preset="paper",
        base=StageConfig(steps=250_000, batch_size=8, patch_size=128),
        protuberance=StageConfig(steps=100_000, batch_size=16, patch_size=96, warmup_fraction=0.1),
        joint=StageConfig(steps=100_000, batch_size=4, patch_size=128),
        phantom_pool_size=200,
        validation_phantoms=12,
        checkpoint_every=2000,
        export_patch_size=128,
        validation_patch_size=128,
    )


def _tiny() -> TrainConfig:
    # For the end-to-end test: a few steps on 32-voxel patches and small phantoms.
    return TrainConfig(
        preset="tiny",
        base=StageConfig(steps=2, batch_size=1, patch_size=32),
        protuberance=StageConfig(steps=2, batch_size=1, patch_size=32, warmup_fraction=0.1),
        joint=StageConfig(steps=2, batch_size=1, patch_size=32),
        max_cases=8,
        use_kits23=False,
        phantom_pool_size=1,
        validation_phantoms=1,
        checkpoint_every=1,
        export_patch_size=32,
        validation_patch_size=32,
    )


PRESETS = {"cpu": _cpu, "finetune": _finetune, "paper": _paper, "protrusion": _protrusion, "skeleton": _skeleton,
           "tiny": _tiny}


def preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def load(path: pathlib.Path) -> TrainConfig:
    return TrainConfig.from_json(pathlib.Path(path).read_text())
