"""The phantom test set and the real-mask protrusion test set, written as NIfTI files.

Both are built only from the test cases of training/splits.json, which training and
validation never see.

Phantom test set (``--phantoms N``): N phantoms at 1 mm, cropped to a box around the
kidneys, laid out for `protrude segment` and `protrude eval`:

    phantoms/images/CASE.nii.gz    rendered HU (int16), the input to `protrude segment`
    phantoms/gt/CASE.nii.gz        0 background, 1 kidney (with cysts), 2 tumor
    phantoms/tissues/CASE.nii.gz   tissue codes; tumor n has code TUMOR_FIRST + n
    phantoms/index.json            kind, placement, density and size of each tumor

The first tumor of phantom i is isodense, hypodense or hyperdense in turn, so every kind
is present. Half of the inserted tumors are exophytic.

Real-mask protrusion set (``--protrusion``): for each KiTS19 test case, the
kidney-plus-tumor union (``union/CASE.nii.gz``) and the protruded part of its tumors
(``protruded/CASE.nii.gz``). A tumor protrudes when at least 5 % of it lies outside the
convex hull of its own kidney's kidney voxels; that outside part is the protruded part.

    PYTHONPATH=training /usr/bin/python3 -m protrude_train.testset --out build/results/testset --phantoms 40
"""

from __future__ import annotations

import argparse
import json
import pathlib

import nibabel as nib
import numpy as np
from scipy import ndimage, spatial

from . import config as config_module
from . import data, demo, kits, phantoms

TEST_SEED_OFFSET = 2_000_000
CROP_MARGIN_MM = 24
MIN_OUTSIDE_HULL = 0.05
KINDS = ("isodense", "hypodense", "hyperdense")


def write_phantom_set(out_dir: pathlib.Path, count: int, seed: int = 0, log=print) -> list[dict]:
    """Write count test phantoms under out_dir and return their summaries."""
    config = config_module.preset("cpu")
    library = data.load_library(config, data.split_ids(config, "test"), data.split_ids(config, "test", "kits23"))
    summaries = []
    for number in range(count):
        phantom_seed = TEST_SEED_OFFSET + seed * 1000 + number
        options = phantoms.PhantomOptions(first_tumor_kind=KINDS[number % len(KINDS)], insert_probability=0.7,
                                          exophytic_probability=0.5)
        phantom = phantoms.generate_phantom(phantom_seed, library, options)
        rng = np.random.default_rng(phantom_seed)
        params = phantoms.draw_render_params(phantom, rng)
        box = kits.bounding_box(phantom.kidney_mask, CROP_MARGIN_MM)
        tissues = phantom.tissues[box]
        hu = phantoms.render_hu(tissues, params, rng)
        labels = phantoms.kidney_region(tissues).astype(np.uint8)
        labels[tissues >= phantoms.Tissue.TUMOR_FIRST] = 2

        case = f"phantom_{number:03d}"
        origin = (float(box[2].start), float(box[1].start), float(box[0].start))
        for folder, array in (("images", np.clip(np.rint(hu), -1024, 3071).astype(np.int16)), ("gt", labels),
                              ("tissues", tissues)):
            (out_dir / folder).mkdir(parents=True, exist_ok=True)
            nib.save(demo.lps_zyx_to_nifti(array, (1.0, 1.0, 1.0), origin), str(out_dir / folder / f"{case}.nii.gz"))
        tumors = [{"code": t.code, "kind": t.kind, "placement": phantoms.placement(t.protruded_fraction),
                   "protruded_fraction": round(t.protruded_fraction, 3), "delta_hu": round(t.delta_hu, 1),
                   "volume_ml": round(t.volume_ml, 2), "source": t.source, "side": t.side}
                  for t in phantom.tumors if (tissues == t.code).any()]
        summary = {"case": case, "seed": phantom_seed, "kits_case": phantom.case_id, "shape_zyx": list(hu.shape),
                   "kidney_hu": phantom.kidney_hu, "tumors": tumors}
        summaries.append(summary)
        log(f"{case}: {phantom.case_id} {hu.shape} tumors={[(t['kind'], t['placement']) for t in tumors]}")
    return summaries


def convex_hull_mask(mask: np.ndarray) -> np.ndarray:
    """Return the voxels whose centres lie inside the convex hull of mask's voxel centres."""
    points = np.argwhere(mask)
    box = kits.bounding_box(mask)
    hull = spatial.Delaunay(points[spatial.ConvexHull(points).vertices])
    grid = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"), -1).reshape(-1, 3)
    inside = hull.find_simplex(grid) >= 0
    out = np.zeros(mask.shape, bool)
    out[box] = inside.reshape([s.stop - s.start for s in box])
    return out | mask


def protruded_parts(labels: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Return (protruded-part mask, one record per tumor) for a KiTS label volume.

    Kidneys are the connected components of kidney-or-tumor. Each tumor component
    belongs to the kidney component that contains it.
    """
    organs, organ_count = ndimage.label(labels > 0)
    tumors, tumor_count = ndimage.label(labels == kits.TUMOR, structure=np.ones((3, 3, 3)))
    protruded = np.zeros(labels.shape, bool)
    records = []
    hulls = {}
    for t in range(1, tumor_count + 1):
        tumor = tumors == t
        organ = int(np.bincount(organs[tumor]).argmax())
        if organ not in hulls:
            kidney = (organs == organ) & (labels == kits.KIDNEY)
            hulls[organ] = convex_hull_mask(kidney) if kidney.sum() >= 4 else np.zeros_like(kidney)
        outside = tumor & ~hulls[organ]
        fraction = float(outside.sum() / tumor.sum())
        protrudes = fraction >= MIN_OUTSIDE_HULL
        if protrudes:
            protruded |= outside
        records.append({"tumor": t, "voxels": int(tumor.sum()), "outside_hull_fraction": round(fraction, 3),
                        "protrudes": protrudes})
    return protruded, records


def write_protrusion_set(out_dir: pathlib.Path, log=print) -> list[dict]:
    """Write union masks and protruded parts of the KiTS19 test cases, at the source grid."""
    config = config_module.preset("cpu")
    summaries = []
    for case_id in data.split_ids(config, "test"):
        path = kits.mask_path(pathlib.Path(config.kits_dir), case_id)
        image = nib.load(str(path))
        labels = np.asanyarray(image.dataobj).astype(np.uint8)
        protruded, records = protruded_parts(labels)
        for name, array in (("union", labels > 0), ("protruded", protruded)):
            (out_dir / name).mkdir(parents=True, exist_ok=True)
            out = nib.Nifti1Image(array.astype(np.uint8), image.affine, image.header)
            out.set_data_dtype(np.uint8)
            nib.save(out, str(out_dir / name / f"{case_id}.nii.gz"))
        summaries.append({"case": case_id, "tumors": records})
        log(f"{case_id}: {sum(r['protrudes'] for r in records)} of {len(records)} tumors protrude")
    (out_dir / "protrusion_truth.json").write_text(json.dumps(summaries, indent=1))
    return summaries


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the phantom and real-mask test sets as NIfTI.")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--phantoms", type=int, default=0, help="number of test phantoms (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protrusion", action="store_true", help="also write the KiTS19 test masks set")
    args = parser.parse_args()
    if args.phantoms:
        summaries = write_phantom_set(args.out / "phantoms", args.phantoms, args.seed)
        (args.out / "phantoms" / "index.json").write_text(json.dumps(summaries, indent=1))
    if args.protrusion:
        write_protrusion_set(args.out / "protrusion")


if __name__ == "__main__":
    main()
