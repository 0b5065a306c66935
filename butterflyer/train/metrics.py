"""Classification metrics from logits and labels (pure tensor code, no plotting).

Top-k accuracy, confusion matrix, per-class precision/recall/F1, most-confused
pairs, expected calibration error with its reliability bins, and the error a perfectly
calibrated model would still show on a split of the same size (its noise floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def topk_accuracy(logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, k: int = 1) -> float:
    """Share (a fraction) of rows whose label is among the ``k`` largest logits (``k`` capped at the class
    count). The one top-k of the package: training, evaluation, compression and the pipeline call it."""
    if len(labels) == 0:
        return float("nan")
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return (top == labels.unsqueeze(1)).any(1).float().mean().item()


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``cm[true, predicted]`` counts (int64)."""
    idx = labels.long() * num_classes + preds.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_prf(cm: torch.Tensor) -> dict[str, torch.Tensor]:
    """Precision, recall, F1 and support per class (0 where undefined)."""
    cm = cm.double()
    tp = cm.diag()
    predicted = cm.sum(0)
    support = cm.sum(1)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(support > 0, tp / support.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(tp))
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def most_confused(cm: torch.Tensor, labels: list[str], n: int = 10) -> list[dict[str, object]]:
    """The ``n`` largest off-diagonal cells: true label, predicted label, count."""
    off = cm.clone()
    off.fill_diagonal_(0)
    flat = off.flatten()
    count = int((flat > 0).sum())
    if count == 0:
        return []
    values, idx = flat.topk(min(n, count))
    k = cm.shape[0]
    return [
        {"true": labels[int(i) // k], "predicted": labels[int(i) % k], "count": int(v)}
        for v, i in zip(values.tolist(), idx.tolist(), strict=True)
    ]


@dataclass
class Reliability:
    """Per-bin mean confidence, accuracy and count (equal-width bins on [0, 1])."""

    confidence: list[float]
    accuracy: list[float]
    count: list[int]
    ece: float


def _bin_index(conf: torch.Tensor, bins: int) -> torch.Tensor:
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    return torch.bucketize(conf, edges[1:-1], right=True)


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> Reliability:
    """Expected calibration error: sum over bins of (bin share) x |accuracy - confidence|."""
    conf, pred = probs.max(1)
    correct = (pred == labels).double()
    conf = conf.double()
    which = _bin_index(conf, bins)
    n = len(labels)
    out_conf, out_acc, out_count, ece = [], [], [], 0.0
    for b in range(bins):
        mask = which == b
        m = int(mask.sum())
        out_count.append(m)
        if m == 0:
            out_conf.append(float("nan"))
            out_acc.append(float("nan"))
            continue
        c, a = conf[mask].mean().item(), correct[mask].mean().item()
        out_conf.append(c)
        out_acc.append(a)
        ece += m / n * abs(a - c)
    return Reliability(out_conf, out_acc, out_count, ece if n else float("nan"))


def ece_noise_floor(confidence: torch.Tensor | np.ndarray, bins: int = 15, draws: int = 1000,
                    seed: int = 0) -> float:
    """Mean ECE of a perfectly calibrated model with these top-1 ``confidence`` values.

    Each draw marks a photo right with probability equal to its confidence, so the only
    gap left is sampling noise: an ECE near this floor is as good as a split of this
    size can show. Uses the same bins as :func:`reliability`.
    """
    conf = torch.as_tensor(confidence, dtype=torch.float64).flatten()
    n = len(conf)
    if n == 0:
        return float("nan")
    which = _bin_index(conf, bins)
    onehot = torch.nn.functional.one_hot(which, bins).double()  # n x bins
    conf_sum = conf @ onehot
    gen = torch.Generator().manual_seed(seed)
    chunk = max(1, 4_000_000 // n)  # draws per block: memory stays bounded on large splits
    total = 0.0
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        right = (torch.rand(size, n, generator=gen, dtype=torch.float64) < conf).double()
        gap = (right @ onehot - conf_sum).abs()  # size x bins: |right - confidence| summed per bin
        total += float(gap.sum())
    return total / (n * draws)


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``logits / temperature``."""
    return torch.nn.functional.cross_entropy(logits.double() / temperature, labels).item()
