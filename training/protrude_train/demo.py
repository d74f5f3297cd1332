"""Write a phantom as a NIfTI demo case with its truth labels.

The phantom is built from a KiTS19 validation case (one that is never used for training),
with its first tumor isodense, rendered with fixed noise and resampled from 1 mm to a
coarser grid so the file stays small. Both files store the array as [x, y, z] with
axes along LPS, so the NIfTI (RAS) affine is diag(-sx, -sy, sz) plus the origin.

    PYTHONPATH=training /usr/bin/python3 -m protrude_train.demo --seed 7 --out assets/demo
"""

from __future__ import annotations

import argparse
import pathlib

import nibabel as nib
import numpy as np
from scipy import ndimage

from . import config as config_module
from . import data, kits, phantoms


BODY_MARGIN_MM = 6


def lps_zyx_to_nifti(volume_zyx: np.ndarray, spacing_zyx_mm, origin_lps_mm) -> nib.Nifti1Image:
    """Wrap a [z, y, x] LPS array as a NIfTI image stored [x, y, z] with an RAS affine.

    origin_lps_mm is the LPS position (x, y, z) of voxel [0, 0, 0]'s centre.
    """
    sz, sy, sx = spacing_zyx_mm
    ox, oy, oz = origin_lps_mm
    affine = np.array([[-sx, 0, 0, -ox], [0, -sy, 0, -oy], [0, 0, sz, oz], [0, 0, 0, 1]], dtype=np.float64)
    image = nib.Nifti1Image(np.ascontiguousarray(volume_zyx.transpose(2, 1, 0)), affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    return image


def resample(volume: np.ndarray, spacing_zyx_mm, order: int) -> np.ndarray:
    """Resample a 1 mm [z, y, x] volume to spacing_zyx_mm; voxel edges stay aligned."""
    zoom = [1.0 / s for s in spacing_zyx_mm]
    return ndimage.zoom(volume, zoom, order=order, mode="nearest", grid_mode=True)


def resample_labels(labels: np.ndarray, spacing_zyx_mm) -> np.ndarray:
    """Resample nested labels (1 kidney, 2 tumor) by interpolating each region and thresholding at 0.5."""
    out = None
    for label in (1, 2):
        region = resample((labels >= label).astype(np.float32), spacing_zyx_mm, order=1)
        if out is None:
            out = np.zeros(region.shape, np.uint8)
        out[region >= 0.5] = label
    return out


def write_demo(seed: int, out_dir: pathlib.Path, spacing_zyx_mm=(2.0, 1.5, 1.5), noise_hu: float = 10.0,
               log=print) -> dict:
    """Generate, render and write the demo CT and truth; return a summary dict."""
    config = config_module.preset("skeleton")
    _, validation_ids = data.case_split(config)
    library = data.load_library(config, validation_ids, data.split_ids(config, "validation", "kits23"))
    phantom = phantoms.generate_phantom(seed, library, phantoms.PhantomOptions(first_tumor_kind="isodense"))

    # Fixed, moderate image quality rather than the training randomization extremes.
    rng = np.random.default_rng(seed)
    params = phantoms.draw_render_params(phantom, rng, randomize_organs=True, noise_range=(noise_hu, noise_hu))
    params.thick_voxel_mm = None
    params.blur_sigma_mm = (0.8, 0.6, 0.6)
    params.scale, params.offset_hu = 1.0, 0.0
    hu = phantoms.render_hu(phantom.tissues, params, rng)

    # Crop the air around the body in y and x, which keeps the file small.
    body = phantom.tissues != phantoms.Tissue.OUTSIDE
    box = (slice(None),) + kits.bounding_box(body, BODY_MARGIN_MM)[1:]
    hu = hu[box]
    ct = np.clip(np.rint(resample(hu, spacing_zyx_mm, order=1)), -1024, 3071).astype(np.int16)
    labels = resample_labels(phantom.label_map()[box], spacing_zyx_mm)

    # Centre the volume on the LPS origin. Voxel centres of the coarse grid sit half a
    # voxel in from the 1 mm volume's edge.
    size_mm = np.asarray(hu.shape, dtype=np.float64)
    first_centre_zyx = np.asarray(spacing_zyx_mm) / 2 - size_mm / 2
    origin_lps = tuple(first_centre_zyx[::-1])

    out_dir.mkdir(parents=True, exist_ok=True)
    nib.save(lps_zyx_to_nifti(ct, spacing_zyx_mm, origin_lps), str(out_dir / "phantom_demo.nii.gz"))
    nib.save(lps_zyx_to_nifti(labels, spacing_zyx_mm, origin_lps), str(out_dir / "phantom_demo_truth.nii.gz"))
    summary = {
        "seed": seed, "case_id": phantom.case_id, "shape_zyx": ct.shape, "spacing_zyx_mm": spacing_zyx_mm,
        "kidney_hu": phantom.kidney_hu,
        "tumors": [(t.kind, round(t.delta_hu, 1), t.side, t.source, round(t.volume_ml, 1),
                    round(t.protruded_fraction, 2)) for t in phantom.tumors],
        "ct_bytes": (out_dir / "phantom_demo.nii.gz").stat().st_size,
        "truth_bytes": (out_dir / "phantom_demo_truth.nii.gz").stat().st_size,
    }
    log(summary)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the phantom demo case and its truth labels as NIfTI.")
    parser.add_argument("--seed", type=int, default=7, help="phantom seed")
    parser.add_argument("--out", type=pathlib.Path, default=kits.REPO_ROOT / "assets" / "demo",
                        help="output folder")
    parser.add_argument("--noise-hu", type=float, default=10.0, help="standard deviation of the image noise in HU")
    args = parser.parse_args(argv)
    write_demo(args.seed, args.out, noise_hu=args.noise_hu)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
