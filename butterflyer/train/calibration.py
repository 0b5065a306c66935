"""Temperature scaling: one scalar ``T`` fitted on validation logits.

Dividing logits by ``T`` leaves the argmax (and accuracy) unchanged and makes the
softmax confidence match the observed accuracy. ``T`` is stored in ``meta.json``
and applied by evaluation and serving.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from butterflyer.errors import DataError


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 200) -> float:
    """The ``T`` in [0.05, 20] minimising the NLL of ``softmax(logits / T)`` on held-out data."""
    if len(labels) == 0:
        raise DataError(
            "cannot fit a temperature on an empty validation split; rebuild records with a val split"
        )
    logits, labels = logits.detach().double().clone(), labels.detach().long().clone()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.exp().item())
    if not math.isfinite(t):
        return 1.0
    return min(20.0, max(0.05, t))
