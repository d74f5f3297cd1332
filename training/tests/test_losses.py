import pytest
import torch

from protrude_train.train import smoothed_bce


def _best_probability(target: float, smoothing: float, positive_weight: float) -> float:
    """Minimize smoothed_bce over one logit by gradient descent and return sigmoid(logit)."""
    logit = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([logit], lr=2.0)
    for _ in range(2000):
        optimizer.zero_grad()
        smoothed_bce(logit, torch.tensor([target]), smoothing, positive_weight).backward()
        optimizer.step()
    return float(torch.sigmoid(logit))


@pytest.mark.parametrize("positive_weight", [1.0, 4.0])
def test_smoothed_bce_optimum(positive_weight):
    # With smoothing s the targets are s/2 and 1 - s/2; a positive weight w moves the
    # optimum of a target y to w*y / (w*y + 1 - y).
    s = 0.1
    for target in (0.0, 1.0):
        y = target * (1 - s) + s / 2
        expected = positive_weight * y / (positive_weight * y + 1 - y)
        assert _best_probability(target, s, positive_weight) == pytest.approx(expected, abs=1e-3)


def test_smoothed_bce_unit_weight():
    logits = torch.tensor([-2.0, 0.5, 3.0])
    target = torch.tensor([0.0, 1.0, 1.0])
    plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, target * 0.9 + 0.05)
    assert float(smoothed_bce(logits, target, 0.1, 1.0)) == pytest.approx(float(plain))
    assert float(smoothed_bce(logits, target, 0.1, 4.0)) > float(plain)
