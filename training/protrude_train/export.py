"""ONNX export of the three networks and the bundle manifest.

A bundle is a folder with base.onnx, protuberance.onnx, fusion.onnx and
manifest.json. Each model has one input and one output of fixed shape
[1, C, P, P, P] (P = export patch size), float32, and returns sigmoid probabilities.
The ONNX files are written with torch.onnx.export (opset 13, constant folding) and
checked with onnx.checker. Their numerical outputs are not compared with torch here,
because no ONNX runtime is installed for Python.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import subprocess

import onnx
import torch

from . import kits, nets
from .config import TrainConfig

OPSET = 13
FORMAT_VERSION = 1
MAX_BUNDLE_BYTES = 40 * 1024 * 1024

# File, input and output names and channel counts the Go side expects.
MODEL_SPECS = {
    "base": {"file": "base.onnx", "input": "image", "input_channels": 1, "output": "probabilities",
             "output_channels": 2, "channel_names": ["kidney", "tumor"]},
    "protuberance": {"file": "protuberance.onnx", "input": "kidney_probability", "input_channels": 1,
                     "output": "protrusion_probability", "output_channels": 1, "channel_names": ["protrusion"]},
    "fusion": {"file": "fusion.onnx", "input": "image_and_lesion", "input_channels": 2,
               "output": "tumor_probability", "output_channels": 1, "channel_names": ["tumor"]},
}


def git_commit() -> str:
    """Return the repository's HEAD commit, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=kits.REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def export_model(network: nets.UNet3D, spec: dict, patch: int, path: pathlib.Path) -> None:
    """Export one network with a sigmoid head and check the written graph's names and shapes."""
    if network.in_channels != spec["input_channels"] or network.out_channels != spec["output_channels"]:
        raise ValueError(f"{spec['file']}: network has {network.in_channels} -> {network.out_channels} channels, "
                         f"expected {spec['input_channels']} -> {spec['output_channels']}")
    model = nets.WithSigmoid(network).eval()
    dummy = torch.zeros(1, spec["input_channels"], patch, patch, patch)
    with torch.no_grad():
        torch.onnx.export(model, dummy, str(path), opset_version=OPSET, input_names=[spec["input"]],
                          output_names=[spec["output"]], do_constant_folding=True)
    check_onnx(path, spec, patch)


def _dims(value_info) -> list[int]:
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim]


def check_onnx(path: pathlib.Path, spec: dict, patch: int) -> None:
    """Raise ValueError unless the model passes onnx.checker and has the expected I/O."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    inputs = [i for i in model.graph.input if i.name not in {init.name for init in model.graph.initializer}]
    outputs = list(model.graph.output)
    expected_in = [1, spec["input_channels"], patch, patch, patch]
    expected_out = [1, spec["output_channels"], patch, patch, patch]
    if [i.name for i in inputs] != [spec["input"]] or _dims(inputs[0]) != expected_in:
        raise ValueError(f"{path}: inputs {[(i.name, _dims(i)) for i in inputs]}, expected {spec['input']} "
                         f"{expected_in}")
    if [o.name for o in outputs] != [spec["output"]] or _dims(outputs[0]) != expected_out:
        raise ValueError(f"{path}: outputs {[(o.name, _dims(o)) for o in outputs]}, expected {spec['output']} "
                         f"{expected_out}")
    if inputs[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ValueError(f"{path}: input type {inputs[0].type.tensor_type.elem_type} is not float32")


def build_manifest(config: TrainConfig, networks: dict, thresholds: dict, patch: int, commit: str,
                   today: datetime.date, postprocessing: dict | None = None) -> dict:
    models = {}
    for name, spec in MODEL_SPECS.items():
        models[name] = {
            "file": spec["file"],
            "inputs": [{"name": spec["input"], "channels": spec["input_channels"]}],
            "outputs": [{"name": spec["output"], "channels": spec["output_channels"],
                         "channel_names": spec["channel_names"]}],
            "base_channels": networks[name].base_channels,
            "channel_cap": networks[name].channel_cap,
        }
    return {
        "format_version": FORMAT_VERSION,
        "bundle_id": f"{'kits19ct' if config.ct_data_dir else 'phantom'}-{config.preset}-{today:%Y%m%d}-{commit[:7]}",
        "description": ("Weights trained on KiTS19 CT" if config.ct_data_dir else
                        "Demo weights trained on synthetic phantoms") + "; research use only, not for clinical use.",
        "models": models,
        "preprocessing": {
            "spacing_mm": [1.0, 1.0, 1.0],
            "hu_window": [-90.0, 210.0],
            "normalization": "window_to_minus1_plus1",
            "tensor_layout": "NCDHW",
            "axis_directions": "D=+S, H=+P, W=+L (LPS)",
        },
        "inference": {
            "patch_size": [patch, patch, patch],
            "overlap": 0.25,
            "blend": "gaussian",
            "crop_margin_mm": 16.0,
            "thresholds": {k: float(thresholds[k]) for k in ("kidney", "protrusion", "tumor")},
            **({"postprocessing": {"min_tumor_component_ml": float(postprocessing["min_tumor_component_ml"]),
                                   "tumor_must_touch_kidney": bool(postprocessing["tumor_must_touch_kidney"])}}
               if postprocessing else {}),
        },
        "provenance": {
            "data": _data_statement(config),
            "preset": config.preset,
            "seed": config.seed,
            "date": today.isoformat(),
            "git_commit": commit,
            "license": "Kidney, tumor and cyst shapes from KiTS19 and KiTS23 (CC BY-NC-SA 4.0)",
            "citation": "Heller et al., The state of the art in kidney and kidney tumor segmentation in "
                        "contrast-enhanced CT imaging: Results of the KiTS19 challenge, Medical Image Analysis 67 "
                        "(2021)",
            "splits": "training/splits.json",
        },
    }


def _data_statement(config: TrainConfig) -> str:
    kits23 = " KiTS23 masks add tumor and cyst shapes." if config.use_kits23 else ""
    if config.ct_data_dir:
        return ("KiTS19 CT scans and masks (phases from " + pathlib.Path(config.phase_table or "").name +
                "); the protuberance network on synthetic KiTS kidney and tumor masks." + kits23)
    return ("Synthetic non-contrast CT phantoms (protrude_train.phantoms) whose kidneys and tumors are KiTS19 "
            "segmentation masks; no CT images were used for training." + kits23)


def export_bundle(networks: dict, config: TrainConfig, out_dir: pathlib.Path, thresholds: dict,
                  patch: int | None = None, log=print, postprocessing: dict | None = None) -> dict:
    """Write the three ONNX models and manifest.json to out_dir and return the manifest."""
    patch = patch or config.export_patch_size
    if patch % nets.DOWNSAMPLING_FACTOR:
        raise ValueError(f"export patch size {patch} is not a multiple of {nets.DOWNSAMPLING_FACTOR}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, spec in MODEL_SPECS.items():
        path = out_dir / spec["file"]
        export_model(networks[name], spec, patch, path)
        total += path.stat().st_size
    if total > MAX_BUNDLE_BYTES:
        raise ValueError(f"bundle in {out_dir} is {total / 2**20:.1f} MiB, over the "
                         f"{MAX_BUNDLE_BYTES / 2**20:.0f} MiB limit; lower channel_cap")
    manifest = build_manifest(config, networks, thresholds, patch, git_commit(), datetime.date.today(),
                              postprocessing)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"bundle {manifest['bundle_id']} written to {out_dir}: {total / 2**20:.2f} MiB of ONNX")
    return manifest


def main(argv=None) -> int:
    import argparse

    from . import evaluate, train
    from .config import TrainConfig

    parser = argparse.ArgumentParser(description="Export a finished training run's networks as an ONNX bundle.")
    parser.add_argument("--run", type=pathlib.Path, required=True, help="training run folder with checkpoints/joint.pt")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="bundle folder, e.g. assets/models")
    parser.add_argument("--patch", type=int, default=None, help="ONNX input side in voxels (default from the run)")
    parser.add_argument("--validate", action="store_true",
                        help="validate on the run's phantoms first and rewrite RUN/validation.json")
    args = parser.parse_args(argv)

    config = TrainConfig.from_json((args.run / "config.json").read_text())
    checkpoint_path = args.run / "checkpoints" / "joint.pt"
    checkpoint = torch.load(checkpoint_path)
    if not checkpoint.get("done"):
        parser.error(f"{checkpoint_path} is not a finished joint stage; finish training first")
    networks = train.build_networks(config)
    for name, network in networks.items():
        network.load_state_dict(checkpoint["networks"][name])
        network.eval()
    thresholds = {"kidney": 0.5, "protrusion": 0.5, "tumor": 0.5}
    postprocessing = None
    validation = args.run / "validation.json"
    if args.validate:
        torch.set_num_threads(config.threads)
        metrics = evaluate.validate_on_phantoms(networks, config, args.run)
        validation.write_text(json.dumps(metrics, indent=2))
    if validation.exists():
        metrics = json.loads(validation.read_text())
        thresholds = evaluate.choose_thresholds(metrics["threshold_sweep_pooled_dice"])
        postprocessing = metrics.get("chosen_postprocessing")
    export_bundle(networks, config, args.out, thresholds, args.patch, postprocessing=postprocessing)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
