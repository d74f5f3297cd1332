import nibabel as nib
import numpy as np
import pytest

from protrude_train import kits


def write_labels(path, data, affine):
    nib.save(nib.Nifti1Image(data.astype(np.uint8), affine), str(path))


@pytest.mark.parametrize("name,affine,marker_ijk", [
    # RAS-stored array: i grows to the patient's right, j anterior, k superior.
    ("RAS identity", np.diag([1.0, 1.0, 1.0, 1.0]), (1, 2, 3)),
    # LPS-stored array: i grows to the patient's left, j posterior, k superior.
    ("LPS axes", np.diag([-1.0, -1.0, 1.0, 1.0]), (1, 2, 3)),
    # KiTS19 style: (slice, row, column) with slices toward inferior.
    ("KiTS19 axes", np.array([[0, 0, -1.0, 0], [0, -1.0, 0, 0], [-1.0, 0, 0, 0], [0, 0, 0, 1]]), (1, 2, 3)),
])
def test_read_labels_lps_orientation(tmp_path, name, affine, marker_ijk):
    shape = (6, 7, 8)
    data = np.zeros(shape, np.uint8)
    data[marker_ijk] = kits.TUMOR
    path = tmp_path / "labels.nii.gz"
    write_labels(path, data, affine)

    labels, spacing = kits.read_labels_lps(path)

    # Expected position: the marker's world point in LPS, relative to the LPS-most corner.
    corners = np.array([[a, b, c, 1] for a in (0, shape[0] - 1) for b in (0, shape[1] - 1) for c in (0, shape[2] - 1)])
    ras = (affine @ corners.T).T[:, :3]
    lps = ras * [-1, -1, 1]
    marker_lps = (affine @ np.array([*marker_ijk, 1.0]))[:3] * [-1, -1, 1]
    expected_xyz = marker_lps - lps.min(0)
    expected_zyx = tuple(int(round(v)) for v in expected_xyz[::-1])
    found = tuple(int(v) for v in np.argwhere(labels == kits.TUMOR)[0])
    assert found == expected_zyx, name
    assert spacing == (1.0, 1.0, 1.0)


def test_resample_labels_to_1mm_keeps_volume():
    labels = np.zeros((10, 40, 40), np.uint8)
    labels[2:8, 10:30, 10:30] = kits.KIDNEY
    labels[4:6, 15:20, 15:20] = kits.TUMOR
    resampled = kits.resample_labels_to_1mm(labels, (3.0, 0.5, 0.5))
    assert resampled.shape == (30, 20, 20)
    kidney_ml = (labels > 0).sum() * 3.0 * 0.25
    assert (resampled > 0).sum() == pytest.approx(kidney_ml, rel=0.1)
    tumor_ml = (labels == kits.TUMOR).sum() * 3.0 * 0.25
    assert (resampled == kits.TUMOR).sum() == pytest.approx(tumor_ml, rel=0.25)


def test_split_kidney_sides(small_library):
    for case in small_library.two_kidney_cases:
        sides = kits.split_kidney_sides(case)
        assert sorted(s.side for s in sides) == ["left", "right"]
        right = next(s for s in sides if s.side == "right")
        left = next(s for s in sides if s.side == "left")
        assert right.offset_mm[2] < left.offset_mm[2], case.case_id
