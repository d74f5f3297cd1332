"""Learning-rate schedule: linear warm-up, then cosine decay."""

from __future__ import annotations

import math


def learning_rate(step: int, total_steps: int, peak_lr: float = 0.1, start_lr: float = 1e-4,
                  warmup_fraction: float = 0.3, final_lr: float = 0.0) -> float:
    """Return the learning rate for a 0-based step out of total_steps.

    The rate rises linearly from start_lr at step 0 to peak_lr at
    warmup_fraction * total_steps, then falls along a half cosine to final_lr at
    step total_steps. Steps past total_steps keep final_lr.
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")

    warmup_steps = warmup_fraction * total_steps
    if step < warmup_steps:
        return start_lr + (peak_lr - start_lr) * step / warmup_steps

    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return final_lr + 0.5 * (peak_lr - final_lr) * (1.0 + math.cos(math.pi * progress))
