"""Validation on held-out phantoms and on the real non-contrast CT.

Phantom validation builds phantoms from KiTS19 cases that training never saw, runs the
whole pipeline (base, PDN, fusion) by sliding window on a box around the kidneys, and
reports Dice per threshold. The thresholds with the best pooled Dice go into the
manifest.

Real-scan evaluation (``python -m protrude_train.evaluate --run DIR``) resamples a
NIfTI CT to 1 mm LPS, runs the base network over the whole volume and compares the
kidney output with a reference kidney mask.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import nibabel as nib
import numpy as np
import torch
from scipy import ndimage

from . import data, kits, phantoms
from .config import TrainConfig
from .sliding_window import predict_volume

THRESHOLD_CANDIDATES = (0.3, 0.4, 0.5, 0.6, 0.7)
# Box around the kidneys, in mm, that validation runs the networks on.
VALIDATION_MARGIN_MM = 16
# A tumor counts as detected when the final output covers this share of its voxels.
DETECTION_COVERAGE = 0.3
# Tumor postprocessing candidates, tried in this order; ties go to the earlier, milder one.
MIN_TUMOR_COMPONENT_ML = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
_CONNECTIVITY_26 = np.ones((3, 3, 3), bool)


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Return the Dice coefficient of two boolean masks; 1.0 when both are empty."""
    total = prediction.sum() + truth.sum()
    if total == 0:
        return 1.0
    return float(2.0 * (prediction & truth).sum() / total)


def _as_probability_model(network):
    def model(block: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(network(block))
    return model


def run_pipeline(networks, image: np.ndarray, patch: int, overlap: float = 0.25) -> dict[str, np.ndarray]:
    """Run base, PDN and fusion over a normalized image [D, H, W]; return probability maps."""
    base = predict_volume(image[None], _as_probability_model(networks["base"]), patch, overlap, pad_value=-1.0)
    protrusion = predict_volume(base[:1], _as_probability_model(networks["protuberance"]), patch, overlap)[0]
    lesion = np.clip(base[1] + protrusion, 0.0, 1.0)
    fusion_input = np.stack([image, lesion])
    tumor = predict_volume(fusion_input, _as_probability_model(networks["fusion"]), patch, overlap)[0]
    return {"kidney": base[0], "base_tumor": base[1], "protrusion": protrusion, "tumor": tumor}


def choose_threshold(dice_by_threshold: dict[str, float]) -> float:
    """Return the threshold with the best Dice; ties, such as all zero, go to the one nearest 0.5."""
    return min(THRESHOLD_CANDIDATES, key=lambda t: (-dice_by_threshold[str(t)], round(abs(t - 0.5), 6)))


def choose_thresholds(sweep: dict) -> dict[str, float]:
    """Return manifest thresholds from a Dice sweep over THRESHOLD_CANDIDATES.

    The protrusion threshold stays 0.5 when the sweep has no protrusion entry.
    """
    return {"kidney": choose_threshold(sweep["kidney"]), "tumor": choose_threshold(sweep["tumor"]),
            "protrusion": choose_threshold(sweep["protrusion"]) if "protrusion" in sweep else 0.5}


def protruded_truth(parenchyma: np.ndarray, tumor: np.ndarray) -> np.ndarray:
    """Return the tumor voxels outside the kidney outline, the parenchyma closed with an 8 mm ball.

    This is the outline that phantoms.placement uses to call a tumor exophytic.
    """
    return tumor & ~phantoms.close(parenchyma, 8.0)


def filter_tumor_components(tumor: np.ndarray, kidney: np.ndarray, min_ml: float, must_touch_kidney: bool,
                            voxel_ml: float = 0.001) -> np.ndarray:
    """Return tumor without the 26-connected components that the postprocessing rule removes.

    The same rule as inference.FilterTumorComponents in Go: components under min_ml, and
    with must_touch_kidney those with no voxel in or next to (26-neighbourhood) the kidney.
    """
    if min_ml <= 0 and not must_touch_kidney:
        return tumor
    labels, count = ndimage.label(tumor, _CONNECTIVITY_26)
    if count == 0:
        return tumor
    keep = np.bincount(labels.ravel(), minlength=count + 1) * voxel_ml >= min_ml
    if must_touch_kidney:
        near = ndimage.binary_dilation(kidney, _CONNECTIVITY_26)
        touching = np.zeros(count + 1, bool)
        touching[np.unique(labels[near & tumor])] = True
        keep &= touching
    keep[0] = False
    return keep[labels]


def lesion_counts(prediction: np.ndarray, truth: np.ndarray) -> dict:
    """Count true tumors covered (DETECTION_COVERAGE) and predicted components touching no true tumor."""
    truth_labels, truth_count = ndimage.label(truth, _CONNECTIVITY_26)
    covered = sum(int((prediction & (truth_labels == n)).sum() >= DETECTION_COVERAGE * (truth_labels == n).sum())
                  for n in range(1, truth_count + 1))
    predicted_labels, predicted_count = ndimage.label(prediction, _CONNECTIVITY_26)
    touching = len(set(np.unique(predicted_labels[truth])) - {0})
    return {"tumors": truth_count, "covered": covered, "components": predicted_count,
            "false_positive_components": predicted_count - touching}


def choose_postprocessing(cases: list[dict], kidney_threshold: float, tumor_threshold: float) -> tuple[dict, list]:
    """Return the tumor postprocessing with the best lesion-level F1 on cases, and the sweep.

    Recall is the share of true tumors covered; precision the share of predicted
    components that touch a true tumor.
    """
    sweep = []
    for must_touch in (False, True):
        for min_ml in MIN_TUMOR_COMPONENT_ML:
            totals = {"tumors": 0, "covered": 0, "components": 0, "false_positive_components": 0}
            for case in cases:
                kidney = case["probabilities"]["kidney"] >= kidney_threshold
                tumor = filter_tumor_components(case["probabilities"]["tumor"] >= tumor_threshold, kidney, min_ml,
                                                must_touch)
                for key, value in lesion_counts(tumor, case["tumor"]).items():
                    totals[key] += value
            recall = totals["covered"] / max(1, totals["tumors"])
            precision = (totals["components"] - totals["false_positive_components"]) / max(1, totals["components"])
            f1 = 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
            sweep.append({"min_tumor_component_ml": min_ml, "tumor_must_touch_kidney": must_touch, **totals,
                          "f1": round(f1, 4)})
    best = max(range(len(sweep)), key=lambda n: (sweep[n]["f1"], -n))
    chosen = {key: sweep[best][key] for key in ("min_tumor_component_ml", "tumor_must_touch_kidney")}
    return chosen, sweep


def validation_phantoms(config: TrainConfig, log=print) -> list[phantoms.Phantom]:
    _, validation_ids = data.case_split(config)
    library = data.load_library(config, validation_ids, data.split_ids(config, "validation", "kits23"))
    seeds = [data.VALIDATION_SEED_OFFSET + config.seed * 100 + i for i in range(config.validation_phantoms)]
    options = phantoms.PhantomOptions(shape_zyx=config.phantom_shape_zyx)
    pool = []
    for seed in seeds:
        pool.append(phantoms.generate_phantom(seed, library, options))
        log(f"validation phantom seed={seed} case={pool[-1].case_id} "
            f"tumors={[(t.kind, round(t.volume_ml, 1), round(t.protruded_fraction, 2)) for t in pool[-1].tumors]}")
    return pool


def validate_on_phantoms(networks, config: TrainConfig, out: pathlib.Path | None = None, log=print) -> dict:
    """Return Dice per threshold and detection per tumor class on validation phantoms."""
    for network in networks.values():
        network.eval()
    cases = []
    for phantom in validation_phantoms(config, log):
        started = time.time()
        rng = np.random.default_rng(phantom.seed)
        params = phantoms.draw_render_params(phantom, rng)
        box = kits.bounding_box(phantom.kidney_mask, VALIDATION_MARGIN_MM)
        hu = phantoms.render_hu(phantom.tissues[box], params, rng)
        probabilities = run_pipeline(networks, phantoms.normalize_hu(hu), config.validation_patch_size)
        tissues = phantom.tissues[box]
        tumor = tissues >= phantoms.Tissue.TUMOR_FIRST
        parenchyma = phantoms.kidney_region(tissues) & ~tumor
        cases.append({"seed": phantom.seed, "probabilities": probabilities,
                      "kidney": phantoms.kidney_region(tissues), "tumor": tumor,
                      "protrusion": protruded_truth(parenchyma, tumor), "tissues": tissues,
                      "tumors": phantom.tumors})
        log(f"validated phantom seed={phantom.seed} in {time.time() - started:.0f}s")
    return score_cases(cases, log)


def validate_on_ct(networks, config: TrainConfig, ct_cases, log=print) -> dict:
    """Return the validation metrics of score_cases on real CT cases (kits_ct.CTCase)."""
    for network in networks.values():
        network.eval()
    cases = []
    for case in ct_cases:
        started = time.time()
        box = kits.bounding_box(case.labels > 0, VALIDATION_MARGIN_MM)
        probabilities = run_pipeline(networks, phantoms.normalize_hu(case.image_hu[box].astype(np.float32)),
                                     config.validation_patch_size)
        labels = case.labels[box]
        tumor = labels == kits.TUMOR
        cases.append({"seed": case.case_id, "probabilities": probabilities, "kidney": labels > 0,
                      "tumor": tumor, "protrusion": protruded_truth((labels > 0) & ~tumor, tumor),
                      "tissues": None, "tumors": []})
        log(f"validated CT case {case.case_id} in {time.time() - started:.0f}s")
    return score_cases(cases, log)


def score_cases(cases: list[dict], log=print) -> dict:
    """Sweep thresholds for pooled Dice, choose the manifest thresholds and score each case."""

    def pooled_dice(key_probability, key_truth, threshold):
        intersection = total = 0
        for case in cases:
            prediction = case["probabilities"][key_probability] >= threshold
            truth = case[key_truth]
            intersection += int((prediction & truth).sum())
            total += int(prediction.sum() + truth.sum())
        return 1.0 if total == 0 else 2.0 * intersection / total

    outputs = [("kidney", "kidney", "kidney"), ("base_tumor", "base_tumor", "tumor"), ("tumor", "tumor", "tumor")]
    if all("protrusion" in case for case in cases):
        outputs.append(("protrusion", "protrusion", "protrusion"))
    sweep = {name: {str(t): pooled_dice(probability, truth, t) for t in THRESHOLD_CANDIDATES}
             for name, probability, truth in outputs}
    chosen = choose_thresholds(sweep)
    postprocessing, postprocessing_sweep = choose_postprocessing(cases, chosen["kidney"], chosen["tumor"])

    detection = {kind: {"tumors": 0, "detected": 0} for kind in phantoms.TUMOR_CLASSES}
    per_case = []
    for case in cases:
        final = filter_tumor_components(case["probabilities"]["tumor"] >= chosen["tumor"],
                                        case["probabilities"]["kidney"] >= chosen["kidney"],
                                        postprocessing["min_tumor_component_ml"],
                                        postprocessing["tumor_must_touch_kidney"])
        for tumor in case["tumors"]:
            mask = case["tissues"] == tumor.code
            if not mask.any():
                continue
            coverage = float((final & mask).sum() / mask.sum())
            detection[tumor.kind]["tumors"] += 1
            detection[tumor.kind]["detected"] += int(coverage >= DETECTION_COVERAGE)
        per_case.append({
            "seed": case["seed"],
            "kidney_dice": dice(case["probabilities"]["kidney"] >= chosen["kidney"], case["kidney"]),
            "tumor_dice": dice(final, case["tumor"]),
            "base_tumor_dice": dice(case["probabilities"]["base_tumor"] >= 0.5, case["tumor"]),
        })
    metrics = {"threshold_sweep_pooled_dice": sweep, "chosen_thresholds": chosen,
               "postprocessing_sweep": postprocessing_sweep, "chosen_postprocessing": postprocessing,
               "per_phantom": per_case,
               "detection_by_class": detection, "detection_rule": f"coverage >= {DETECTION_COVERAGE}"}
    log(f"validation: kidney Dice {sweep['kidney'][str(chosen['kidney'])]:.3f} at {chosen['kidney']}, "
        f"tumor Dice {sweep['tumor'][str(chosen['tumor'])]:.3f} at {chosen['tumor']}, "
        f"base tumor Dice {sweep['base_tumor']['0.5']:.3f} at 0.5, "
        + (f"protrusion Dice {sweep['protrusion'][str(chosen['protrusion'])]:.3f} at {chosen['protrusion']}, "
           if "protrusion" in sweep else "")
        + f"detection {detection}, "
        f"postprocessing {postprocessing}")
    return metrics


# --- Real scan ---


def read_ct_lps_1mm(path: pathlib.Path, order: int = 1) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Read a NIfTI volume, reorient it to LPS [z, y, x] and resample it to 1 mm.

    Returns (volume, original spacing (z, y, x) in mm). order is the spline order:
    1 for CT, 0 for label masks.
    """
    image = nib.as_closest_canonical(nib.load(str(path)))
    volume = np.asanyarray(image.dataobj).astype(np.float32)
    volume = np.ascontiguousarray(volume[::-1, ::-1, :].transpose(2, 1, 0))
    zooms = image.header.get_zooms()[:3]
    spacing = (float(zooms[2]), float(zooms[1]), float(zooms[0]))
    resampled = ndimage.zoom(volume, spacing, order=order, mode="nearest", grid_mode=True)
    return resampled, spacing


def evaluate_real_scan(base_network, ct_path: pathlib.Path, mask_path: pathlib.Path, patch: int,
                       threshold: float = 0.5, log=print) -> dict:
    """Return kidney Dice of the base network on a real CT against a reference mask.

    Dice is reported on the 1 mm grid (reference resampled with nearest neighbour) and
    on the scan's own grid (probabilities averaged back onto it).
    """
    hu, spacing = read_ct_lps_1mm(ct_path, order=1)
    reference, _ = read_ct_lps_1mm(mask_path, order=0)
    reference = reference > 0
    started = time.time()
    base_network.eval()
    probabilities = predict_volume(phantoms.normalize_hu(hu)[None], _as_probability_model(base_network), patch,
                                   0.25, pad_value=-1.0)
    seconds = time.time() - started
    kidney = probabilities[0]

    # Back to the scan grid: average the 1 mm probabilities over each original voxel.
    factors = [int(round(s)) for s in spacing]
    native_shape = [n // f for n, f in zip(kidney.shape, factors)]
    trimmed = kidney[: native_shape[0] * factors[0], : native_shape[1] * factors[1], : native_shape[2] * factors[2]]
    native = trimmed.reshape(native_shape[0], factors[0], native_shape[1], factors[1], native_shape[2],
                             factors[2]).mean((1, 3, 5))
    reference_native = reference[:: factors[0], :: factors[1], :: factors[2]][: native_shape[0], : native_shape[1],
                                                                             : native_shape[2]]
    result = {
        "ct": str(ct_path), "reference": str(mask_path), "patch": patch, "threshold": threshold,
        "kidney_dice_1mm": dice(kidney >= threshold, reference),
        "kidney_dice_native_grid": dice(native >= threshold, reference_native),
        "predicted_kidney_ml": float((kidney >= threshold).sum() / 1000.0),
        "reference_kidney_ml": float(reference.sum() / 1000.0),
        "inference_seconds": round(seconds, 1),
        "dice_by_threshold_1mm": {str(t): dice(kidney >= t, reference) for t in THRESHOLD_CANDIDATES},
    }
    # Dice inside the kidneys' slab, to separate misses from false positives elsewhere.
    slab = slice(*np.flatnonzero(reference.any((1, 2)))[[0, -1]] + [0, 1])
    result["kidney_dice_1mm_within_kidney_slices"] = dice(kidney[slab] >= threshold, reference[slab])
    log(json.dumps(result, indent=2))
    return result, kidney


def main(argv=None) -> int:
    from . import train

    parser = argparse.ArgumentParser(description="Evaluate a run's base network on a real CT with a kidney mask.")
    parser.add_argument("--run", type=pathlib.Path, required=True, help="training run folder")
    parser.add_argument("--ct", type=pathlib.Path,
                        default=kits.REPO_ROOT.parent / "shared" / "data" / "real_ncct" / "torso_ncct_3mm.nii.gz",
                        help="NIfTI CT in HU")
    parser.add_argument("--mask", type=pathlib.Path,
                        default=kits.REPO_ROOT.parent / "shared" / "data" / "real_ncct" /
                        "torso_ncct_3mm_kidneys_pseudo.nii.gz", help="NIfTI kidney reference mask on the CT's grid")
    parser.add_argument("--stage", default="joint", choices=["base", "joint"],
                        help="checkpoint whose base network is evaluated")
    parser.add_argument("--patch", type=int, default=96, help="window side in voxels")
    parser.add_argument("--save-probability", type=pathlib.Path, default=None,
                        help="write the kidney probability as .npy [z, y, x] at 1 mm")
    args = parser.parse_args(argv)

    config = TrainConfig.from_json((args.run / "config.json").read_text())
    torch.set_num_threads(config.threads)
    networks = train.build_networks(config)
    checkpoint = torch.load(args.run / "checkpoints" / f"{args.stage}.pt")
    networks["base"].load_state_dict(checkpoint["networks"]["base"])
    threshold = 0.5
    validation = args.run / "validation.json"
    if validation.exists():
        threshold = json.loads(validation.read_text())["chosen_thresholds"]["kidney"]
    result, kidney = evaluate_real_scan(networks["base"], args.ct, args.mask, args.patch, threshold)
    result["stage"] = args.stage
    (args.run / f"real_ncct_{args.stage}.json").write_text(json.dumps(result, indent=2))
    if args.save_probability:
        np.save(args.save_probability, kidney.astype(np.float16))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
