"""``butterflyer evaluate``: score a saved model on one split and write a report folder.

The report holds ``report.md`` (human summary), ``metrics.json`` (everything
below), ``predictions.json`` (every example's true/predicted label and
confidence) and PNGs: the confusion matrix, reliability diagrams before/after
temperature scaling, and training curves. The temperature is the one fitted on
val at training time (``meta.json``); :func:`calibrate` refits it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from butterflyer.errors import DataError
from butterflyer.fileio import atomic_write_json, atomic_write_text
from butterflyer.models import ButterflyClassifier, ModelMeta, load_model
from butterflyer.train import plots
from butterflyer.train.calibration import fit_temperature
from butterflyer.train.data import eval_transform, open_split, read_labels
from butterflyer.train.features import pick_threads
from butterflyer.train.metrics import (
    confusion_matrix,
    ece_noise_floor,
    most_confused,
    nll,
    per_class_prf,
    reliability,
    topk_accuracy,
)

log = logging.getLogger(__name__)


@torch.no_grad()
def predict(
    model: ButterflyClassifier,
    meta: ModelMeta,
    uri: str,
    split: str,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw species logits (before temperature) and labels for every example of ``split``.

    Runs in float32 with channels-last memory (about 4x faster than the default layout
    for EfficientNet on CPU); the model is handed back in its original layout.
    """
    check_labels(meta, uri)
    ds = open_split(uri, split, eval_transform(meta.data_config), shuffle=False, labels=meta.labels)
    model = model.eval().to(device).to(memory_format=torch.channels_last)
    threads = torch.get_num_threads()
    if torch.device(device).type == "cpu":
        torch.set_num_threads(pick_threads())
    outs, ys = [], []
    try:
        for images, labels, _ in DataLoader(ds, batch_size=batch_size, num_workers=num_workers):
            x = images.to(device).contiguous(memory_format=torch.channels_last)
            outs.append(model(x).float().cpu())
            ys.append(labels)
    finally:
        torch.set_num_threads(threads)
        model.to(memory_format=torch.contiguous_format)
    if not outs:
        raise DataError(f"split '{split}' of {uri} is empty; nothing to evaluate")
    return torch.cat(outs), torch.cat(ys).long()


def check_labels(meta: ModelMeta, uri: str) -> None:
    """The records must use the model's label list in the same order."""
    labels = read_labels(uri)
    if labels != meta.labels:
        raise DataError(
            f"the labels of {uri} ({len(labels)}) differ from the model's ({len(meta.labels)}); "
            "evaluate on records built for this model, or retrain on these records"
        )


def calibrate(model_dir: Path, records_uri: str, split: str = "val") -> float:
    """Fit the temperature on ``split`` and store it in the model's ``meta.json``."""
    model, meta = load_model(model_dir)
    logits, labels = predict(model, meta, records_uri, split)
    t = fit_temperature(logits, labels)
    meta.model_copy(update={"temperature": t}).save(model_dir)
    return t


def summarize(
    logits: torch.Tensor, labels: torch.Tensor, names: list[str], temperature: float, bins: int = 15
) -> dict[str, Any]:
    """All report metrics from logits (JSON-ready)."""
    k = len(names)
    preds = logits.argmax(1)
    cm = confusion_matrix(preds, labels, k)
    prf = per_class_prf(cm)
    before = reliability(torch.softmax(logits.double(), 1), labels, bins)
    calibrated = torch.softmax(logits.double() / temperature, 1)
    after = reliability(calibrated, labels, bins)
    per_class = {
        names[i]: {
            "precision": prf["precision"][i].item(),
            "recall": prf["recall"][i].item(),
            "f1": prf["f1"][i].item(),
            "support": int(prf["support"][i]),
        }
        for i in range(k)
    }
    present = prf["support"] > 0
    return {
        "n": len(labels),
        "top1": topk_accuracy(logits, labels, 1),
        "top5": topk_accuracy(logits, labels, 5),
        "macro_f1": prf["f1"][present].mean().item() if present.any() else float("nan"),
        "nll": nll(logits, labels),
        "nll_calibrated": nll(logits, labels, temperature),
        "ece": before.ece,
        "ece_calibrated": after.ece,
        "ece_floor": ece_noise_floor(calibrated.max(1).values, bins),
        "temperature": temperature,
        "per_class": per_class,
        "most_confused": most_confused(cm, names, 15),
        "confusion_matrix": cm.tolist(),
        "_reliability": (before, after),
    }


def evaluate(
    model_dir: Path,
    records_uri: str,
    split: str = "test",
    out_dir: Path | None = None,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Evaluate ``model_dir`` on ``split`` and write the report folder; returns the metrics dict.

    The returned dict has ``top1``, ``top5``, ``macro_f1``, ``nll``, ``ece`` (T = 1),
    ``ece_calibrated`` (the model's temperature), ``per_class``, ``most_confused``,
    and ``report_dir``.
    """
    model_dir = Path(model_dir)
    model, meta = load_model(model_dir, device)
    logits, labels = predict(model, meta, records_uri, split, batch_size, device)
    out = Path(out_dir) if out_dir is not None else model_dir.parent / f"report-{split}"
    result = write_report(logits, labels, meta, out, split)
    result.update({"model_dir": str(model_dir), "records": records_uri})
    atomic_write_json(out / "metrics.json", result)
    return result


def write_report(
    logits: torch.Tensor, labels: torch.Tensor, meta: ModelMeta, out: Path, split: str = "test"
) -> dict[str, Any]:
    """Write the report folder for already-computed ``logits``; returns the metrics dict."""
    out.mkdir(parents=True, exist_ok=True)
    result = summarize(logits, labels, meta.labels, meta.temperature)
    before, after = result.pop("_reliability")
    probs = torch.softmax(logits / meta.temperature, 1)
    conf, preds = probs.max(1)
    predictions = [
        {
            "index": i,
            "true": meta.labels[int(y)],
            "predicted": meta.labels[int(p)],
            "confidence": round(float(c), 5),
        }
        for i, (y, p, c) in enumerate(zip(labels, preds, conf, strict=True))
    ]
    plots.confusion_png(torch.tensor(result["confusion_matrix"]), meta.labels, out / "confusion_matrix.png")
    plots.reliability_png(before, after, meta.temperature, out / "reliability.png")
    plots.curves_png(list(meta.extra.get("history", [])), out / "training_curves.png")
    result.update(
        {
            "split": split,
            "architecture": meta.architecture,
            "data_manifest_sha256": meta.data_manifest_sha256,
            "report_dir": str(out),
        }
    )
    atomic_write_json(out / "metrics.json", result)
    atomic_write_json(out / "predictions.json", predictions)
    atomic_write_text(out / "report.md", _markdown(result, meta))
    return result


def _markdown(r: dict[str, Any], meta: ModelMeta) -> str:
    lines = [
        f"# Evaluation of `{meta.architecture}` on the {r['split']} split",
        "",
        f"- examples: {r['n']}",
        f"- top-1: **{r['top1']:.4f}**, top-5: {r['top5']:.4f}, macro F1: {r['macro_f1']:.4f}",
        f"- NLL: {r['nll']:.4f} -> {r['nll_calibrated']:.4f} with T = {r['temperature']:.3f} (fitted on val)",
        f"- expected calibration error (15 bins): {r['ece']:.4f} -> {r['ece_calibrated']:.4f} "
        f"(a perfectly calibrated model would show about {r['ece_floor']:.4f} on {r['n']} examples)",
        f"- data manifest sha256: `{meta.data_manifest_sha256}`",
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
        "![reliability](reliability.png)",
        "",
        "![training curves](training_curves.png)",
        "",
        "## Most confused pairs",
        "",
        "| true | predicted | count |",
        "|---|---|---|",
    ]
    lines += [f"| {p['true']} | {p['predicted']} | {p['count']} |" for p in r["most_confused"]]
    worst = sorted(r["per_class"].items(), key=lambda kv: (kv[1]["f1"], kv[0]))[:15]
    lines += [
        "",
        "## Weakest classes (F1)",
        "",
        "| class | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
        for name, m in worst
    ]
    return "\n".join(lines) + "\n"
