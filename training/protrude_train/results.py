"""Measure a model bundle the way docs/results.md reports it, through the Go product.

Three measurements, all on data that training and validation never saw:

1. Phantom test set: `protrude segment` on each test phantom, then `protrude eval`
   twice: once with the base network's own tumor output (base-only) and once with the
   fusion output (full pipeline). Each true tumor is matched to its phantom tumor, so
   sensitivity and Dice split by density kind and placement.
2. The protuberance network alone on the KiTS19 test masks (`protrude protrusion` on
   the kidney-plus-tumor union). A tumor's protruded part is what lies outside the
   convex hull of its own kidney's kidney voxels, when that is at least 5 % of it. It is
   found when the prediction covers at least 30 % of that part.
3. The base network's kidney on the real non-contrast CT, against its reference mask
   (`protrude segment` + `protrude eval`).

    make results        # or:
    PYTHONPATH=training /usr/bin/python3 -m protrude_train.results --protrude bin/protrude \\
        --out build/results --doc docs/results.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import time

import nibabel as nib
import numpy as np
from scipy import ndimage

from . import kits, phantoms, testset

REAL_DIR = kits.REPO_ROOT.parent / "shared" / "data" / "real_ncct"
FOUND_COVERAGE = 0.30


def _run(command: list[str], log) -> float:
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return time.time() - started


def _segment_all(protrude: str, images: pathlib.Path, pred: pathlib.Path, models: list[str], log) -> dict:
    timings = {}
    for image in sorted(images.glob("*.nii.gz")):
        case = image.name[: -len(".nii.gz")]
        out = pred / case
        if (out / "tumor.nii.gz").exists() and (out / "base_tumor.nii.gz").exists():
            continue
        timings[case] = _run([protrude, "segment", str(image), "-o", str(out), *models], log)
        log(f"segmented {case} in {timings[case]:.0f}s")
    return timings


def _base_only_view(pred: pathlib.Path, base: pathlib.Path) -> None:
    """Make base/CASE/{kidney,tumor}.nii.gz point at the base network's outputs."""
    for case_dir in sorted(p for p in pred.iterdir() if p.is_dir()):
        target = base / case_dir.name
        target.mkdir(parents=True, exist_ok=True)
        for name, source in (("kidney.nii.gz", "kidney.nii.gz"), ("tumor.nii.gz", "base_tumor.nii.gz")):
            link = target / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to((case_dir / source).resolve())


def _tumor_attributes(tissues_dir: pathlib.Path, index: list[dict], report: dict) -> list[dict]:
    """Attach each true tumor of an eval report to its phantom tumor's kind and placement.

    The tumor is identified by the most common tumor code inside its bounding box.
    """
    by_case = {entry["case"]: entry for entry in index}
    rows = []
    for case in report["cases"]:
        tissues = np.asanyarray(nib.load(str(tissues_dir / f"{case['case']}.nii.gz")).dataobj)
        codes = {t["code"]: t for t in by_case[case["case"]]["tumors"]}
        for tumor in case["true_tumors"]:
            box = tuple(slice(a, b) for a, b in zip(tumor["bounding_box_min_ijk"],
                                                    tumor["bounding_box_max_ijk_exclusive"]))
            inside = tissues[box]
            inside = inside[inside >= phantoms.Tissue.TUMOR_FIRST]
            code = int(np.bincount(inside).argmax()) if inside.size else -1
            info = codes.get(code, {"kind": "unknown", "placement": "unknown"})
            rows.append({"case": case["case"], "kind": info["kind"], "placement": info["placement"],
                         "volume_ml": tumor["volume_ml"], "dice": tumor["dice"], "found": tumor["found"]})
    return rows


def _group(rows: list[dict], key) -> dict:
    groups: dict = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {name: {"tumors": len(g), "found": sum(r["found"] for r in g),
                   "sensitivity": sum(r["found"] for r in g) / len(g),
                   "mean_dice": float(np.mean([r["dice"] for r in g]))} for name, g in sorted(groups.items())}


def phantom_results(protrude: str, out: pathlib.Path, count: int, models: list[str], log) -> dict:
    root = out / "testset" / "phantoms"
    if not (root / "index.json").exists():
        summaries = testset.write_phantom_set(root, count, log=log)
        (root / "index.json").write_text(json.dumps(summaries, indent=1))
    index = json.loads((root / "index.json").read_text())
    pred = out / "pred" / "phantoms"
    timings = _segment_all(protrude, root / "images", pred, models, log)
    _base_only_view(pred, out / "pred" / "phantoms_base")
    reports = {}
    for name, folder in (("full", pred), ("base_only", out / "pred" / "phantoms_base")):
        json_path = out / f"eval_phantoms_{name}.json"
        _run([protrude, "eval", str(folder), str(root / "gt"), "--json", str(json_path)], log)
        report = json.loads(json_path.read_text())
        rows = _tumor_attributes(root / "tissues", index, report)
        reports[name] = {
            "summary": report["summary"],
            "by_kind": _group(rows, lambda r: r["kind"]),
            "by_kind_and_placement": _group(rows, lambda r: f"{r['kind']} {r['placement']}"),
        }
    reports["cases"] = len(index)
    reports["segment_seconds"] = timings
    return reports


def protrusion_results(protrude: str, out: pathlib.Path, models: list[str], log) -> dict:
    root = out / "testset" / "protrusion"
    truth_file = root / "protrusion_truth.json"
    if not truth_file.exists():
        testset.write_protrusion_set(root, log=log)
    truth = json.loads(truth_file.read_text())
    pred_dir = out / "pred" / "protrusion"
    pred_dir.mkdir(parents=True, exist_ok=True)
    found = total = false_positives = 0
    per_case = []
    for entry in truth:
        case = entry["case"]
        prediction_path = pred_dir / f"{case}.nii.gz"
        if not prediction_path.exists():
            seconds = _run([protrude, "protrusion", str(root / "union" / f"{case}.nii.gz"), "-o",
                            str(prediction_path), *models], log)
            log(f"protrusion {case} in {seconds:.0f}s")
        prediction = np.asanyarray(nib.load(str(prediction_path)).dataobj) > 0
        labels = np.asanyarray(nib.load(str(kits.mask_path(kits.DEFAULT_KITS_DIR, case))).dataobj)
        protruded, records = testset.protruded_parts(labels)
        tumors, _ = ndimage.label(labels == kits.TUMOR, structure=np.ones((3, 3, 3)))
        case_found = 0
        for record in records:
            if not record["protrudes"]:
                continue
            part = protruded & (tumors == record["tumor"])
            covered = float((prediction & part).sum() / max(1, part.sum()))
            total += 1
            case_found += int(covered >= FOUND_COVERAGE)
        components, count = ndimage.label(prediction, structure=np.ones((3, 3, 3)))
        touching = set(np.unique(components[protruded])) - {0}
        case_fp = count - len(touching)
        found += case_found
        false_positives += case_fp
        per_case.append({"case": case, "protruding_tumors": sum(r["protrudes"] for r in records),
                         "found": case_found, "false_positive_components": case_fp})
    return {"cases": len(truth), "protruding_tumors": total, "found": found,
            "fraction_found": found / total if total else None,
            "false_positive_components_per_case": false_positives / max(1, len(truth)), "per_case": per_case}


def real_scan_results(protrude: str, out: pathlib.Path, models: list[str], log) -> dict | None:
    scan = REAL_DIR / "torso_ncct_3mm.nii.gz"
    reference = REAL_DIR / "torso_ncct_3mm_kidneys_pseudo.nii.gz"
    if not scan.exists() or not reference.exists():
        log(f"real scan not found in {REAL_DIR}; skipped")
        return None
    pred = out / "pred" / "real" / "torso"
    seconds = _run([protrude, "segment", str(scan), "-o", str(pred), *models], log)
    gt = out / "gt_real"
    gt.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(reference, gt / "torso.nii.gz")
    json_path = out / "eval_real.json"
    _run([protrude, "eval", str(pred.parent), str(gt), "--json", str(json_path)], log)
    report = json.loads(json_path.read_text())
    kidney = np.asanyarray(nib.load(str(pred / "kidney.nii.gz")).dataobj) > 0
    zooms = nib.load(str(pred / "kidney.nii.gz")).header.get_zooms()[:3]
    return {"kidney_dice": report["cases"][0]["kidney_dice"], "segment_seconds": round(seconds, 1),
            "predicted_kidney_ml": float(kidney.sum() * np.prod(zooms) / 1000.0),
            "predicted_tumor_components": report["cases"][0]["predicted_tumors"]}


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def _num(x, digits=3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def write_markdown(results: dict, path: pathlib.Path) -> None:
    manifest = results["manifest"]
    lines = [
        "# Results of the shipped model bundle",
        "",
        f"Bundle `{manifest['bundle_id']}` ({manifest['provenance']['preset']} preset, seed "
        f"{manifest['provenance']['seed']}). Measured on {results['date']} on {results['machine']} with:",
        "",
        "```sh",
        results["command"],
        "```",
        "",
        f"The whole run took {results['seconds'] / 60:.0f} minutes. Every number comes from "
        "`protrude segment`, `protrude protrusion` and `protrude eval`, the same code users run. "
        "All data are test cases from `training/splits.json`, which training and validation never saw.",
        "",
        "**These are demo weights trained on phantoms, not for clinical use.**",
        "",
    ]

    phantom = results.get("phantoms")
    if phantom:
        lines += [f"## Phantom test set ({phantom['cases']} phantoms)", "",
                  "A tumor is found when its Dice with the predicted components that touch it is above 0.5. "
                  "A false positive is a predicted component that touches no true tumor.", "",
                  "| output | tumor Dice | per-tumor sensitivity | FPs per image | kidney Dice |",
                  "| --- | --- | --- | --- | --- |"]
        for name, label in (("base_only", "base net only"), ("full", "full pipeline")):
            s = phantom[name]["summary"]
            lines.append(f"| {label} | {_num(s['tumor_dice_mean'])} | {_pct(s['per_tumor_sensitivity'])} "
                         f"({s['found_tumors']}/{s['true_tumors']}) | {_num(s['false_positives_per_image'], 2)} | "
                         f"{_num(s['kidney_dice_mean'])} |")
        lines += ["", "By tumor kind and placement (exophytic: at least 50 % outside the kidney, endophytic: at most "
                  "10 %, mixed: in between):", "",
                  "| tumors | count | base-only sensitivity | full sensitivity | base-only mean Dice | full mean Dice |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for group in ("by_kind", "by_kind_and_placement"):
            for key, full in phantom["full"][group].items():
                base = phantom["base_only"][group][key]
                lines.append(f"| {key} | {full['tumors']} | {_pct(base['sensitivity'])} | {_pct(full['sensitivity'])} "
                             f"| {_num(base['mean_dice'])} | {_num(full['mean_dice'])} |")
        lines.append("")

    protrusion = results.get("protrusion")
    if protrusion:
        lines += ["## The protuberance network alone on real KiTS19 masks", "",
                  f"{protrusion['cases']} KiTS19 test cases, input the kidney-plus-tumor union. "
                  f"{protrusion['protruding_tumors']} tumors protrude (at least 5 % outside the convex hull of "
                  "their kidney's kidney voxels).", "",
                  "| found (prediction covers at least 30 % of the protruded part) | false-positive components per case |",
                  "| --- | --- |",
                  f"| {_pct(protrusion['fraction_found'])} ({protrusion['found']}/{protrusion['protruding_tumors']}) "
                  f"| {_num(protrusion['false_positive_components_per_case'], 2)} |", ""]

    real = results.get("real")
    if real:
        lines += ["## The base network on a real non-contrast CT", "",
                  "`../shared/data/real_ncct/torso_ncct_3mm.nii.gz` against its reference kidney mask (a "
                  "TotalSegmentator output, not an expert label). No real CT was used in training.", "",
                  "| kidney Dice | predicted kidney volume | predicted tumor components | segment time |",
                  "| --- | --- | --- | --- |",
                  f"| {_num(real['kidney_dice'])} | {real['predicted_kidney_ml']:.0f} mL (reference about 330 mL) | "
                  f"{real['predicted_tumor_components']} | {real['segment_seconds']:.0f} s |", ""]

    lines += ["Raw numbers: `build/results/results.json` after `make results`.", ""]

    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines))
    temporary.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure a bundle on the test sets and write docs/results.md.")
    parser.add_argument("--protrude", default="bin/protrude", help="the protrude binary")
    parser.add_argument("--models", default=None, help="bundle folder (default: the embedded bundle)")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("build/results"))
    parser.add_argument("--phantoms", type=int, default=40)
    parser.add_argument("--doc", type=pathlib.Path, default=None, help="write the Markdown page here")
    args = parser.parse_args()

    started = time.time()
    log = lambda message: print(message, flush=True)
    models = ["--models", args.models] if args.models else []
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_text = subprocess.run([args.protrude, "version"], capture_output=True, text=True).stdout
    if args.models:
        manifest = json.loads((pathlib.Path(args.models) / "manifest.json").read_text())
    else:
        manifest = json.loads((kits.REPO_ROOT / "assets" / "models" / "manifest.json").read_text())
    results = {"manifest": manifest, "version": manifest_text.strip(),
               "date": datetime.date.today().isoformat(),
               "machine": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
                          f"ONNX Runtime on the CPU",
               "command": "make results"}
    results["phantoms"] = phantom_results(args.protrude, args.out, args.phantoms, models, log)
    results["protrusion"] = protrusion_results(args.protrude, args.out, models, log)
    results["real"] = real_scan_results(args.protrude, args.out, models, log)
    results["seconds"] = time.time() - started
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    if args.doc:
        write_markdown(results, args.doc)
    log(f"results in {args.out / 'results.json'} after {results['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
