"""The KiTS19 CT loader and a tiny training run on the KiTS19 folder layout.

The CT volumes here are synthetic (two ellipsoid kidneys, one with a tumor, in a water
cylinder), written with the KiTS19 axis order, because the KiTS19 scans are not
available on this machine. The point is the layout, the orientation and the one-command
training path, not the anatomy.
"""

import json

import nibabel as nib
import numpy as np
import pytest

from protrude_train import kits, kits_ct, train

# KiTS19 stores (slice, row, column) with this affine sign pattern; spacing 2 mm.
KITS_AFFINE = np.array([[0, 0, -2.0, 0], [0, -2.0, 0, 0], [-2.0, 0, 0, 0], [0, 0, 0, 1]])


def synthetic_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (HU, labels) in KiTS19 axis order (slice, row, column), 2 mm voxels."""
    rng = np.random.default_rng(seed)
    shape = (70, 90, 110)  # 140 x 180 x 220 mm
    s, r, c = np.meshgrid(*[np.arange(n, dtype=np.float32) for n in shape], indexing="ij")
    hu = np.full(shape, -1000.0, np.float32)
    hu[((r - 45) / 42) ** 2 + ((c - 55) / 52) ** 2 <= 1] = -80.0  # fat body
    labels = np.zeros(shape, np.uint8)
    for centre_c in (30, 80):
        kidney = ((s - 35) / 26) ** 2 + ((r - 55) / 11) ** 2 + ((c - centre_c) / 13) ** 2 <= 1
        labels[kidney] = kits.KIDNEY
    tumor = ((s - 40) / 7) ** 2 + ((r - 55) / 7) ** 2 + ((c - 93) / 7) ** 2 <= 1
    labels[tumor] = kits.TUMOR
    hu[labels == kits.KIDNEY] = 30.0
    hu[labels == kits.TUMOR] = 35.0
    hu += rng.normal(0, 5, shape).astype(np.float32)
    return hu, labels


def write_case(folder, case_id, seed):
    hu, labels = synthetic_case(seed)
    (folder / case_id).mkdir(parents=True)
    nib.save(nib.Nifti1Image(hu.astype(np.int16), KITS_AFFINE), str(folder / case_id / "imaging.nii.gz"))
    nib.save(nib.Nifti1Image(labels, KITS_AFFINE), str(folder / case_id / "segmentation.nii.gz"))
    return hu, labels


def test_phase_table_names_bad_rows(tmp_path):
    table = tmp_path / "phases.csv"
    table.write_text("case_id,phase\ncase_00001,noncontrast\ncase_00002,arterial\n")
    with pytest.raises(ValueError, match=r"phases.csv:3: phase 'arterial' for case_00002"):
        kits_ct.read_phase_table(table)
    table.write_text("case,phase\n")
    with pytest.raises(ValueError, match="must name the columns case_id and phase"):
        kits_ct.read_phase_table(table)
    table.write_text("case_id,phase\ncase_00001,Contrast\n")
    assert kits_ct.read_phase_table(table) == {"case_00001": "contrast"}


def test_ct_case_lps_1mm(tmp_path):
    _, labels = write_case(tmp_path, "case_00001", 0)
    case = kits_ct.load_ct_case(tmp_path, "case_00001", "noncontrast", tmp_path / "cache")

    # 2 mm voxels become 1 mm: every axis doubles.
    assert case.image_hu.shape == case.labels.shape
    assert sorted(case.image_hu.shape) == sorted(2 * n for n in labels.shape)
    # Labels and HU stay registered: kidney voxels read kidney HU, tumor voxels tumor HU.
    assert abs(float(np.median(case.image_hu[case.labels == kits.KIDNEY])) - 30) < 4
    assert abs(float(np.median(case.image_hu[case.labels == kits.TUMOR])) - 35) < 4
    # LPS: the tumor sits on the kidney drawn at high column index. With this affine the
    # column index grows toward RAS -x, the patient's left, so the tumor is at high LPS x.
    tumor_x = np.argwhere(case.labels == kits.TUMOR)[:, 2].mean()
    assert tumor_x > case.labels.shape[2] / 2
    # The cache gives back the same arrays.
    again = kits_ct.load_ct_case(tmp_path, "case_00001", "noncontrast", tmp_path / "cache")
    np.testing.assert_array_equal(again.image_hu, case.image_hu)


def test_sampler_patches_have_targets(tmp_path):
    write_case(tmp_path, "case_00001", 0)
    case = kits_ct.load_ct_case(tmp_path, "case_00001", "contrast", tmp_path / "cache")

    class Config:
        tumor_patch_fraction = 0.5
        kidney_patch_fraction = 0.5

    sampler = kits_ct.CTPatchSampler([case], Config(), np.random.default_rng(0))
    images, targets = sampler.sample(2, 32)
    assert tuple(images.shape) == (2, 1, 32, 32, 32)
    assert tuple(targets.shape) == (2, 2, 32, 32, 32)
    assert float(images.min()) >= -1.0
    assert float(images.max()) <= 1.0
    assert float(targets[:, 0].sum()) > 0  # patches centred on kidney or tumor contain kidney
    assert bool(((targets[:, 1] > 0) <= (targets[:, 0] > 0)).all())  # tumor is inside the kidney label


def test_tiny_training_on_kits19_layout(tmp_path):
    splits = kits.load_splits()
    train_ids = splits["kits19"]["train"][:2]
    validation_ids = splits["kits19"]["validation"][:1]
    data = tmp_path / "kits19"
    for seed, case_id in enumerate(train_ids + validation_ids):
        write_case(data, case_id, seed)
    (data / "phases.csv").write_text("case_id,phase\n" + "".join(
        f"{c},{'noncontrast' if i % 2 == 0 else 'contrast'}\n" for i, c in enumerate(train_ids + validation_ids)))

    out = tmp_path / "run"
    assert train.main(["--preset", "tiny", "--out", str(out), "--ct-data", str(data), "--device", "cpu"]) == 0

    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    assert manifest["bundle_id"].startswith("kits19ct-tiny-")
    assert "KiTS19 CT" in manifest["provenance"]["data"]
    validation = json.loads((out / "validation.json").read_text())
    assert [c["seed"] for c in validation["per_phantom"]] == validation_ids
    for name in ("base", "protuberance", "fusion"):
        assert (out / "bundle" / f"{name}.onnx").stat().st_size > 0
