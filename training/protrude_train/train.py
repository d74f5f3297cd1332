"""Train the base, protuberance and fusion networks, then validate and export a bundle.

Stages, each resumable from its checkpoint under OUT/checkpoints:

1. base: the base U-Net on rendered phantom patches, dice + binary cross-entropy on
   the kidney (kidney including tumor) and tumor channels.
2. protuberance: the PDN on synthetic kidney/tumor unions, binary cross-entropy with
   label smoothing.
3. joint: base and fusion networks together with the PDN frozen. The loss is the
   fusion output's dice + cross-entropy plus the base loss as intermediate supervision.

Run from the repository root:

    PYTHONPATH=training /usr/bin/python3 -m protrude_train.train --preset skeleton --out training/runs/X --seed 0
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import config as config_module
from . import data, evaluate, export, kits, kits_ct, nets, warmstart
from .config import StageConfig, TrainConfig
from .schedule import learning_rate

def build_networks(config: TrainConfig) -> dict[str, nets.UNet3D]:
    return {
        "base": nets.UNet3D(1, 2, config.base_channels, config.channel_cap),
        "protuberance": nets.UNet3D(1, 1, config.protuberance_channels, config.channel_cap),
        "fusion": nets.UNet3D(2, 1, config.fusion_channels, config.channel_cap),
    }


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Return 1 - soft dice per channel, averaged over channels; the sums run over the whole batch."""
    probability = torch.sigmoid(logits)
    dims = (0, 2, 3, 4)
    intersection = (probability * target).sum(dims)
    total = probability.sum(dims) + target.sum(dims)
    return (1.0 - (2.0 * intersection + smooth) / (total + smooth)).mean()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return soft_dice_loss(logits, target) + F.binary_cross_entropy_with_logits(logits, target)


def smoothed_bce(logits: torch.Tensor, target: torch.Tensor, smoothing: float,
                 positive_weight: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy against targets pulled toward 0.5 by smoothing / 2.

    positive_weight multiplies the loss terms of the positive class (pos_weight).
    """
    weight = None if positive_weight == 1.0 else torch.tensor(positive_weight, dtype=logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target * (1.0 - smoothing) + 0.5 * smoothing,
                                              pos_weight=weight)


class Run:
    """A training run's folder: config, log, checkpoints and bundle."""

    def __init__(self, out: pathlib.Path, config: TrainConfig, device: torch.device | None = None):
        self.out = out
        self.config = config
        self.device = device or torch.device("cpu")
        self.checkpoints = out / "checkpoints"
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.log_path = out / "log.jsonl"

    def log(self, message: str) -> None:
        print(message, flush=True)

    def record(self, entry: dict) -> None:
        with self.log_path.open("a") as stream:
            stream.write(json.dumps(entry) + "\n")

    def checkpoint_path(self, stage: str) -> pathlib.Path:
        return self.checkpoints / f"{stage}.pt"

    def load_checkpoint(self, stage: str) -> dict | None:
        path = self.checkpoint_path(stage)
        return torch.load(path, map_location="cpu") if path.exists() else None

    def save_checkpoint(self, stage: str, state: dict) -> None:
        temporary = self.checkpoint_path(stage).with_suffix(".tmp")
        torch.save(state, temporary)
        temporary.replace(self.checkpoint_path(stage))


def _optimizer(parameters, config: TrainConfig, stage: StageConfig) -> torch.optim.Optimizer:
    if stage.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=stage.start_lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    if stage.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=stage.start_lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {stage.optimizer!r}; use 'sgd' or 'adam'")


def _train_loop(run: Run, name: str, stage: StageConfig, modules: dict, trainable: list[str], sample_fn, loss_fn,
                rng: np.random.Generator) -> None:
    """Run one stage's optimization steps, resuming from its checkpoint when there is one.

    modules maps names to networks, and those named in trainable are optimized.
    sample_fn returns a batch, and loss_fn(modules, batch) returns (loss, details dict).
    """
    config = run.config
    parameters = [p for key in trainable for p in modules[key].parameters()]
    optimizer = _optimizer(parameters, config, stage)
    start_step = 0
    checkpoint = run.load_checkpoint(name)
    if checkpoint is not None:
        for key, module in modules.items():
            if key in checkpoint["networks"]:
                module.load_state_dict(checkpoint["networks"][key])
        if checkpoint.get("done"):
            run.log(f"[{name}] complete in checkpoint, skipped")
            return
        optimizer.load_state_dict(checkpoint["optimizer"])
        rng.bit_generator.state = checkpoint["numpy_rng"]
        torch.set_rng_state(checkpoint["torch_rng"])
        start_step = checkpoint["step"]
        run.log(f"[{name}] resumed at step {start_step}")

    for key, module in modules.items():
        module.train(key in trainable)
        module.requires_grad_(key in trainable)

    def save(step: int, done: bool) -> None:
        run.save_checkpoint(name, {
            "step": step, "done": done,
            "networks": {key: module.state_dict() for key, module in modules.items()},
            "optimizer": optimizer.state_dict(),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        })

    if stage.steps == 0:
        run.log(f"[{name}] 0 steps: the weights stay as initialized")
    started = time.time()
    for step in range(start_step, stage.steps):
        lr = learning_rate(step, stage.steps, stage.peak_lr, stage.start_lr, stage.warmup_fraction)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = tuple(tensor.to(run.device) for tensor in sample_fn())
        loss, details = loss_fn(modules, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, config.gradient_clip_norm)
        optimizer.step()

        entry = {"stage": name, "step": step, "lr": lr, "loss": float(loss), "grad_norm": float(grad_norm),
                 "elapsed_s": round(time.time() - started, 1), **details}
        run.record(entry)
        if step % 10 == 0 or step == stage.steps - 1:
            detail_text = " ".join(f"{k}={v:.4f}" for k, v in details.items())
            run.log(f"[{name}] step {step}/{stage.steps} lr={lr:.4g} loss={float(loss):.4f} {detail_text} "
                    f"elapsed={time.time() - started:.0f}s")
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < stage.steps:
            save(step + 1, False)
    save(stage.steps, True)
    run.log(f"[{name}] done: {stage.steps - start_step} steps in {time.time() - started:.0f}s")


def train(run: Run) -> dict[str, nets.UNet3D]:
    """Run all stages and return the trained networks."""
    config = run.config
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    networks = {name: network.to(run.device) for name, network in build_networks(config).items()}
    run.log(f"training on {run.device}")
    if config.init_from:
        # Checkpoints, when present, replace these weights stage by stage.
        warmstart.load_bundle(networks, pathlib.Path(config.init_from),
                              {name: spec["file"] for name, spec in export.MODEL_SPECS.items()})
        run.log(f"networks initialized from the bundle in {config.init_from}")
    train_ids, validation_ids = data.case_split(config)
    kits23_ids = data.split_ids(config, "train", "kits23")
    run.log(f"KiTS19 cases: {len(train_ids)} for training, {len(validation_ids)} for validation; "
            f"KiTS23 cases for training: {len(kits23_ids)}")
    library = data.load_library(config, train_ids, kits23_ids)
    run.log(f"shape library: {len(library.two_kidney_cases)} two-kidney cases, "
            f"{len(library.kidneys_without_tumor)} kidneys without tumor or cyst, {len(library.tumors)} tumors, "
            f"{len(library.cysts)} cysts")

    pool = None

    ct_cases = None
    if config.ct_data_dir:
        # Real CT: every training case of the split that the phase table lists, plus
        # cases the split does not know (a full KiTS19 has ids beyond the shared masks).
        known = {c for part in ("train", "validation", "test")
                 for c in kits.load_splits(pathlib.Path(config.splits_file))["kits19"][part]}
        extra = [c for c in kits.case_ids_in(pathlib.Path(config.ct_data_dir)) if c not in known]
        if extra:
            run.log(f"{len(extra)} CT cases are not in {config.splits_file}; they are used for training")
        ct_cases = kits_ct.load_ct_cases(pathlib.Path(config.ct_data_dir), pathlib.Path(config.phase_table),
                                         train_ids + extra, pathlib.Path(config.cache_dir), run.log)

    def phantom_sampler(stage_index: int):
        nonlocal pool
        if ct_cases is not None:
            return kits_ct.CTPatchSampler(ct_cases, config, np.random.default_rng([config.seed, stage_index, 1]))
        if pool is None:
            seeds = [config.seed * 10_000 + i for i in range(config.phantom_pool_size)]
            (run.out / "phantoms").mkdir(exist_ok=True)
            pool = data.phantom_pool(config, library, seeds, run.out / "phantoms", run.log)
        return data.PhantomPatchSampler(pool, config, np.random.default_rng([config.seed, stage_index, 1]))

    # Stage 1: base network.
    stage = config.base
    if not _stage_done(run, "base"):
        sampler = phantom_sampler(1)
        rng = sampler.rng
    else:
        sampler, rng = None, np.random.default_rng([config.seed, 1])

    def base_loss(modules, batch):
        image, target = batch
        logits = modules["base"](image)
        kidney = segmentation_loss(logits[:, :1], target[:, :1])
        tumor = segmentation_loss(logits[:, 1:], target[:, 1:])
        return kidney + tumor, {"kidney_loss": float(kidney), "tumor_loss": float(tumor)}

    _train_loop(run, "base", stage, {"base": networks["base"]}, ["base"],
                lambda: sampler.sample(stage.batch_size, stage.patch_size), base_loss, rng)

    # Stage 2: protuberance detection network on synthetic unions.
    pdn_stage = config.protuberance
    pdn_rng = np.random.default_rng([config.seed, 2])
    protrusion_sampler = data.ProtrusionSampler(library, pdn_rng, seed=config.seed,
                                                size=config.protrusion_dataset_size)

    def pdn_loss(modules, batch):
        soft, target = batch
        logits = modules["protuberance"](soft)
        loss = smoothed_bce(logits, target, config.label_smoothing, config.protrusion_positive_weight)
        return loss, {}

    _train_loop(run, "protuberance", pdn_stage, {"protuberance": networks["protuberance"]}, ["protuberance"],
                lambda: protrusion_sampler.sample(pdn_stage.batch_size, pdn_stage.patch_size), pdn_loss, pdn_rng)

    # Stage 3: base and fusion together, PDN frozen.
    joint_stage = config.joint
    if not _stage_done(run, "joint"):
        joint_sampler = phantom_sampler(3)
        joint_rng = joint_sampler.rng
    else:
        joint_sampler, joint_rng = None, np.random.default_rng([config.seed, 3])

    def joint_loss(modules, batch):
        image, target = batch
        fused, base_logits = forward_pipeline(modules, image, config.joint_backprop_through_pdn)
        fusion = segmentation_loss(fused, target[:, 1:])
        base = segmentation_loss(base_logits[:, :1], target[:, :1]) + segmentation_loss(base_logits[:, 1:],
                                                                                          target[:, 1:])
        return fusion + base, {"fusion_loss": float(fusion), "base_loss": float(base)}

    _train_loop(run, "joint", joint_stage, networks, ["base", "fusion"],
                lambda: joint_sampler.sample(joint_stage.batch_size, joint_stage.patch_size), joint_loss, joint_rng)
    for network in networks.values():
        network.eval()
    return networks


def select_device(name: str) -> torch.device:
    """Return the torch device for --device auto|cpu|cuda; auto takes CUDA when torch finds a GPU."""
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch finds no usable CUDA GPU (torch.cuda.is_available() is False)")
        return torch.device("cuda")
    if name != "auto":
        raise SystemExit(f"--device {name!r}: use auto, cpu or cuda")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def forward_pipeline(modules, image: torch.Tensor, backprop_through_pdn: bool = False):
    """Run base, PDN and fusion; return (fusion tumor logits, base logits)."""
    base_logits = modules["base"](image)
    probabilities = torch.sigmoid(base_logits)
    kidney = probabilities[:, :1] if backprop_through_pdn else probabilities[:, :1].detach()
    protrusion = torch.sigmoid(modules["protuberance"](kidney))
    lesion = torch.clamp(probabilities[:, 1:2] + protrusion, 0.0, 1.0)
    fused = modules["fusion"](torch.cat([image, lesion], dim=1))
    return fused, base_logits


def _stage_done(run: Run, stage: str) -> bool:
    checkpoint = run.load_checkpoint(stage)
    return bool(checkpoint and checkpoint.get("done"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train Protrude's three networks and export an ONNX bundle.")
    parser.add_argument("--preset", default="skeleton", choices=sorted(config_module.PRESETS),
                        help="step counts, patch sizes and data sizes")
    parser.add_argument("--out", type=pathlib.Path, required=True,
                        help="run folder for config, log, checkpoints, metrics and bundle")
    parser.add_argument("--seed", type=int, default=0, help="seed for phantoms, sampling and initialization")
    parser.add_argument("--kits-dir", type=pathlib.Path, default=None,
                        help="folder with KiTS19 case_XXXXX.nii.gz masks (default ../shared/data/kits19 "
                             "beside the repository)")
    parser.add_argument("--ct-data", type=pathlib.Path, default=None,
                        help="KiTS19 folder with case_XXXXX/imaging.nii.gz and segmentation.nii.gz: train the base "
                             "and joint stages on these CT scans instead of phantoms")
    parser.add_argument("--phase-table", type=pathlib.Path, default=None,
                        help="CSV with columns case_id,phase (noncontrast or contrast); default CT_DATA/phases.csv")
    parser.add_argument("--kits23-dir", type=pathlib.Path, default=None,
                        help="folder with KiTS23 case_XXXXX.nii.gz masks, labels 0-3 (default ../shared/data/kits23)")
    parser.add_argument("--export-dir", type=pathlib.Path, default=None,
                        help="also write the bundle here, e.g. assets/models")
    parser.add_argument("--export-patch-size", type=int, default=None,
                        help="side of the ONNX input in voxels, a multiple of 32 (default from the preset)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where to train: auto takes a CUDA GPU when torch finds one")
    parser.add_argument("--init-from", type=pathlib.Path, default=None,
                        help="start from the weights of this bundle folder (e.g. assets/models) instead of random ones")
    parser.add_argument("--reuse-validation", action="store_true",
                        help="take the thresholds from OUT/validation.json when it exists instead of validating again")
    parser.add_argument("--no-validation", action="store_true",
                        help="skip phantom validation and keep all thresholds at 0.5")
    args = parser.parse_args(argv)

    config_path = args.out / "config.json"
    if config_path.exists():
        config = config_module.load(config_path)
        if config.preset != args.preset or config.seed != args.seed:
            parser.error(f"{args.out} holds a {config.preset!r} run with seed {config.seed}; "
                         f"use another --out or the same preset and seed to resume")
        print(f"resuming run in {args.out}", flush=True)
    else:
        config = config_module.preset(args.preset)
        config.seed = args.seed
        if args.kits_dir is not None:
            config.kits_dir = str(args.kits_dir.resolve())
        if args.ct_data is not None:
            config.ct_data_dir = str(args.ct_data.resolve())
            config.kits_dir = config.ct_data_dir
            config.phase_table = str((args.phase_table or args.ct_data / "phases.csv").resolve())
        if args.kits23_dir is not None:
            config.kits23_dir = str(args.kits23_dir.resolve())
        if args.export_patch_size is not None:
            config.export_patch_size = args.export_patch_size
        if args.init_from is not None:
            config.init_from = str(args.init_from.resolve())
        args.out.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config.to_json())
    idle = [name for name in ("base", "protuberance", "joint") if getattr(config, name).steps == 0]
    if idle and not config.init_from:
        parser.error(f"the {args.preset!r} preset trains no steps for {', '.join(idle)}; "
                     f"give --init-from BUNDLE to take those weights from a bundle")
    if config.export_patch_size % nets.DOWNSAMPLING_FACTOR:
        parser.error(f"export patch size {config.export_patch_size} is not a multiple of "
                     f"{nets.DOWNSAMPLING_FACTOR}")

    run = Run(args.out, config, select_device(args.device))
    started = time.time()
    networks = train(run)
    run.log(f"training finished in {time.time() - started:.0f}s")
    networks = {name: network.cpu() for name, network in networks.items()}

    thresholds = {"kidney": 0.5, "protrusion": 0.5, "tumor": 0.5}
    postprocessing = None
    validation_file = run.out / "validation.json"
    if args.reuse_validation and validation_file.exists():
        # Re-export of a finished run: keep the thresholds its validation chose.
        metrics = json.loads(validation_file.read_text())
        thresholds = metrics["chosen_thresholds"]
        postprocessing = metrics.get("chosen_postprocessing")
        args.no_validation = True
        run.log(f"thresholds from {validation_file}: {thresholds}")
    if not args.no_validation and config.ct_data_dir:
        validation_cases = kits_ct.load_ct_cases(pathlib.Path(config.ct_data_dir), pathlib.Path(config.phase_table),
                                                 data.split_ids(config, "validation"), pathlib.Path(config.cache_dir),
                                                 run.log)
        metrics = evaluate.validate_on_ct(networks, config, validation_cases, run.log)
        thresholds = metrics["chosen_thresholds"]
        postprocessing = metrics["chosen_postprocessing"]
        (run.out / "validation.json").write_text(json.dumps(metrics, indent=2))
    elif not args.no_validation and config.validation_phantoms > 0:
        metrics = evaluate.validate_on_phantoms(networks, config, run.out, run.log)
        thresholds = metrics["chosen_thresholds"]
        postprocessing = metrics["chosen_postprocessing"]
        (run.out / "validation.json").write_text(json.dumps(metrics, indent=2))

    bundle_dirs = [run.out / "bundle"] + ([args.export_dir] if args.export_dir else [])
    for bundle_dir in bundle_dirs:
        export.export_bundle(networks, config, bundle_dir, thresholds, log=run.log, postprocessing=postprocessing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
