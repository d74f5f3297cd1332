import numpy as np
import pytest
import torch

from protrude_train import evaluate
from protrude_train.sliding_window import gaussian_weights, predict_volume, window_starts


def test_choose_threshold_best_dice():
    assert evaluate.choose_threshold({"0.3": 0.2, "0.4": 0.6, "0.5": 0.5, "0.6": 0.1, "0.7": 0.0}) == 0.4


def test_choose_threshold_ties_go_to_middle():
    assert evaluate.choose_threshold({"0.3": 0.0, "0.4": 0.0, "0.5": 0.0, "0.6": 0.0, "0.7": 0.0}) == 0.5
    assert evaluate.choose_threshold({"0.3": 0.4, "0.4": 0.1, "0.5": 0.1, "0.6": 0.1, "0.7": 0.4}) == 0.3


def test_dice_known_values():
    a = np.zeros(10, bool)
    b = np.zeros(10, bool)
    assert evaluate.dice(a, b) == 1.0
    a[:4] = True
    b[2:6] = True
    assert evaluate.dice(a, b) == pytest.approx(0.5)
    assert evaluate.dice(a, a) == 1.0


def test_window_starts_cover_axis():
    assert window_starts(200, 96, 0.25) == [0, 52, 104]
    assert window_starts(150, 96, 0.25) == [0, 54]
    assert window_starts(300, 96, 0.25) == [0, 68, 136, 204]
    assert window_starts(96, 96, 0.25) == [0]
    assert window_starts(40, 96, 0.25) == [0]


def test_predict_volume_doubling_model():
    # A model that doubles its input must stitch to exactly twice the input.
    rng = np.random.default_rng(0)
    volume = rng.standard_normal((2, 40, 70, 50)).astype(np.float32)
    output = predict_volume(volume, lambda block: 2 * block, patch=32, overlap=0.25)
    assert output.shape == volume.shape
    np.testing.assert_allclose(output, 2 * volume, rtol=1e-5, atol=1e-5)


def test_predict_volume_pads_small_volume():
    volume = np.ones((1, 20, 40, 33), np.float32)
    calls = []

    def model(block: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(block.shape))
        return block[:, :1] * 0 + 3

    output = predict_volume(volume, model, patch=32, overlap=0.25, pad_value=-1.0)
    assert output.shape == (1, 20, 40, 33)
    assert np.allclose(output, 3.0)
    assert all(shape == (1, 1, 32, 32, 32) for shape in calls)


def test_gaussian_weights_peak_in_centre():
    weights = gaussian_weights(32)
    assert weights.max() == pytest.approx(1.0)
    assert weights.min() > 0
    assert weights[16, 16, 16] > weights[0, 0, 0]


def _cube(mask, corner, side):
    mask[corner[0]:corner[0] + side, corner[1]:corner[1] + side, corner[2]:corner[2] + side] = True


def _postprocessing_case():
    # The layout of TestFilterTumorComponents in inference/postprocess_test.go, at 2 mm
    # voxels (0.008 mL each), so that Go and Python are held to the same results.
    kidney = np.zeros((20, 20, 20), bool)
    _cube(kidney, (2, 2, 2), 6)
    tumor = np.zeros_like(kidney)
    _cube(tumor, (8, 2, 2), 3)
    _cube(tumor, (15, 15, 15), 3)
    _cube(tumor, (4, 15, 4), 1)
    _cube(tumor, (3, 3, 3), 1)
    return tumor, kidney


@pytest.mark.parametrize("min_ml,touch,voxels", [(0.0, False, 56), (0.1, False, 54), (0.216, False, 54),
                                                 (0.0, True, 28), (0.1, True, 27)])
def test_filter_tumor_components_matches_go(min_ml, touch, voxels):
    tumor, kidney = _postprocessing_case()
    kept = evaluate.filter_tumor_components(tumor, kidney, min_ml, touch, voxel_ml=0.008)
    assert int(kept.sum()) == voxels
    assert not (kept & ~tumor).any()


def test_choose_postprocessing_drops_speckle():
    truth = np.zeros((30, 30, 30), bool)
    _cube(truth, (5, 5, 5), 6)
    prediction = np.zeros_like(truth)
    _cube(prediction, (5, 5, 5), 5)  # covers 125 of 216 true voxels
    for corner in ((20, 20, 20), (25, 5, 5), (5, 25, 25)):
        _cube(prediction, corner, 2)  # 8 voxels, 0.008 mL each at 1 mm
    kidney = np.zeros_like(truth)
    _cube(kidney, (3, 3, 3), 10)
    case = {"probabilities": {"kidney": kidney.astype(np.float32), "tumor": prediction.astype(np.float32)},
            "tumor": truth}
    chosen, sweep = evaluate.choose_postprocessing([case], 0.5, 0.5)
    assert chosen == {"min_tumor_component_ml": 0.1, "tumor_must_touch_kidney": False}
    first = sweep[0]
    assert (first["covered"], first["components"], first["false_positive_components"]) == (1, 4, 3)


def test_protrusion_threshold_when_scored():
    flat = {"0.3": 0.1, "0.4": 0.1, "0.5": 0.1, "0.6": 0.1, "0.7": 0.1}
    peak = {"0.3": 0.1, "0.4": 0.1, "0.5": 0.1, "0.6": 0.1, "0.7": 0.4}
    assert evaluate.choose_thresholds({"kidney": flat, "tumor": flat})["protrusion"] == 0.5
    assert evaluate.choose_thresholds({"kidney": flat, "tumor": flat, "protrusion": peak})["protrusion"] == 0.7


def test_protruded_truth_outside_outline():
    parenchyma = np.zeros((40, 40, 40), bool)
    parenchyma[10:30, 10:30, 10:30] = True
    outside = np.zeros_like(parenchyma)
    outside[15:25, 15:25, 30:36] = True  # on the cube's face, wholly outside it
    inside = np.zeros_like(parenchyma)
    inside[15:25, 15:25, 12:18] = True  # wholly inside the cube
    kidney = parenchyma & ~inside
    truth = evaluate.protruded_truth(kidney, outside | inside)
    assert truth[outside].all()
    assert not truth[inside].any()
    assert not truth[~(outside | inside)].any()
