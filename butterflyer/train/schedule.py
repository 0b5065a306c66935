"""Learning-rate schedule: linear warm-up, then cosine decay to a floor.

A pure function of the step, so a resumed run needs no scheduler state.
"""

from __future__ import annotations

import math


def cosine_lr(step: int, total: int, warmup: int, floor: float = 0.01) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``total`` steps."""
    if total <= 0:
        return 1.0
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
