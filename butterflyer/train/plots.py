"""PNG figures for the evaluation report: confusion matrix, reliability, training curves.

Uses matplotlib's Agg backend (no display needed). The confusion matrix stays
readable at 100 classes: a large canvas, log-scaled colours, tiny tick labels,
and the diagonal shown separately so mistakes stand out.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from butterflyer.fileio import atomic_open  # noqa: E402
from butterflyer.train.metrics import Reliability  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def confusion_png(cm: torch.Tensor, labels: list[str], path: Path) -> Path:
    """Row-normalised confusion matrix; off-diagonal errors in red on a log scale, diagonal in grey."""
    k = len(labels)
    size = max(6.0, min(28.0, 0.22 * k + 3))
    counts = cm.double()
    rows = (counts / counts.sum(1, keepdim=True).clamp(min=1)).numpy()
    diag = np.where(np.eye(k, dtype=bool), rows, np.nan)
    off = np.where(~np.eye(k, dtype=bool) & (rows > 0), rows, np.nan)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(diag, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    image = ax.imshow(
        off,
        cmap="Reds",
        # the floor sits well below the smallest error so that even one mistake is clearly red
        norm=LogNorm(vmin=max(1e-3, (np.nanmin(off) if np.isfinite(off).any() else 0.1) / 4), vmax=1),
        interpolation="nearest",
    )
    font = max(3.5, min(9.0, 400 / max(k, 1)))
    ax.set_xticks(range(k), labels, rotation=90, fontsize=font)
    ax.set_yticks(range(k), labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (rows normalised; grey = correct, red = mistakes, log scale)")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="share of the true class")
    return _save(fig, path)


def reliability_png(before: Reliability, after: Reliability, temperature: float, path: Path) -> Path:
    """Reliability diagrams before and after temperature scaling, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    for ax, rel, title in (
        (axes[0], before, "before (T = 1)"),
        (axes[1], after, f"after (T = {temperature:.2f})"),
    ):
        bins = len(rel.count)
        centres = (np.arange(bins) + 0.5) / bins
        acc = np.array(rel.accuracy, dtype=float)
        conf = np.array(rel.confidence, dtype=float)
        used = np.array(rel.count) > 0
        ax.bar(centres[used], acc[used], width=1 / bins, edgecolor="white", color="#4c72b0", label="accuracy")
        ax.plot(conf[used], conf[used], "o", color="#dd8452", markersize=4, label="mean confidence")
        ax.vlines(
            conf[used],
            np.minimum(acc[used], conf[used]),
            np.maximum(acc[used], conf[used]),
            colors="#c44e52",
            linewidth=2,
            label="gap",
        )
        ax.plot([0, 1], [0, 1], "k--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_title(f"{title}: ECE {rel.ece:.3f}")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left")
    return _save(fig, path)


def curves_png(history: list[dict[str, float]], path: Path) -> Path:
    """Loss and validation top-1 per epoch (stage changes marked)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    if history:
        epochs = [h["epoch"] for h in history]
        for key, ax in (
            ("train_loss", ax_loss),
            ("val_loss", ax_loss),
            ("val_top1", ax_acc),
            ("train_top1", ax_acc),
        ):
            values = [h.get(key) for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [np.nan if v is None else v for v in values], marker="o", label=key)
        stages = [h.get("stage", 1.0) for h in history]
        for i in range(1, len(stages)):
            if stages[i] != stages[i - 1]:
                for ax in (ax_loss, ax_acc):
                    ax.axvline(epochs[i] - 0.5, color="grey", linestyle=":")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_title("loss")
    if ax_loss.get_legend_handles_labels()[0]:
        ax_loss.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_title("top-1")
    if ax_acc.get_legend_handles_labels()[0]:
        ax_acc.legend()
    return _save(fig, path)
