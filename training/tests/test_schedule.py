import math

import pytest

from protrude_train.schedule import learning_rate


@pytest.mark.parametrize("warmup_fraction", [0.3, 0.1])
def test_schedule_key_points(warmup_fraction):
    total = 1000
    warmup_end = int(warmup_fraction * total)
    assert learning_rate(0, total, warmup_fraction=warmup_fraction) == pytest.approx(1e-4)
    assert learning_rate(warmup_end, total, warmup_fraction=warmup_fraction) == pytest.approx(0.1)
    assert learning_rate(warmup_end // 2, total, warmup_fraction=warmup_fraction) == pytest.approx((1e-4 + 0.1) / 2)
    assert learning_rate(total, total, warmup_fraction=warmup_fraction) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(total + 5, total, warmup_fraction=warmup_fraction) == pytest.approx(0.0, abs=1e-12)


def test_schedule_cosine_midpoint():
    # Half way through the decay the cosine is at half the peak.
    total, warmup = 1000, 0.3
    middle = 300 + 350
    assert learning_rate(middle, total, warmup_fraction=warmup) == pytest.approx(0.05)


def test_schedule_monotonic_phases():
    total = 200
    rates = [learning_rate(s, total) for s in range(total + 1)]
    warmup = rates[:61]
    decay = rates[60:]
    assert all(a < b for a, b in zip(warmup, warmup[1:])), "warm-up is not increasing"
    assert all(a >= b for a, b in zip(decay, decay[1:])), "decay is not decreasing"
    assert max(rates) == pytest.approx(0.1)


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError):
        learning_rate(0, 0)
    with pytest.raises(ValueError):
        learning_rate(0, 10, warmup_fraction=1.0)
    assert not math.isnan(learning_rate(5, 10, warmup_fraction=0.0))



@pytest.mark.parametrize("warmup_fraction,expected", [
    # Base and joint stages: warm-up over 30 % of steps.
    (0.3, {0.0: 1e-4, 0.1: 1e-4 + (0.1 - 1e-4) / 3, 0.3: 0.1, 1.0: 0.0}),
    # PDN: warm-up over 10 %; at 30 % the cosine has run 0.2 / 0.9 of its course.
    (0.1, {0.0: 1e-4, 0.1: 0.1, 0.3: 0.05 * (1 + math.cos(math.pi * 0.2 / 0.9)), 1.0: 0.0}),
])
def test_schedule_at_0_10_30_100_percent(warmup_fraction, expected):
    total = 10_000
    for fraction, rate in expected.items():
        assert learning_rate(int(fraction * total), total, warmup_fraction=warmup_fraction) == \
            pytest.approx(rate, abs=1e-9), fraction
