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
