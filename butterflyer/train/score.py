"""Score any saved model folder on one split: PyTorch weights or an ONNX-only folder.

The pipeline's evaluate step and promotion (re-evaluating the champion on the
challenger's split) both call :func:`score_folder`; results are fractions named
``{split}_top1``, ``{split}_top5`` and so on.
"""

from __future__ import annotations

from pathlib import Path

from butterflyer.errors import ModelError
from butterflyer.fileio import atomic_write_json, atomic_write_text
from butterflyer.models.meta import WEIGHTS_FILE, ModelMeta
from butterflyer.train.metrics import topk_accuracy


def score_folder(model_dir: str | Path, records_uri: str, split: str = "test", out_dir: Path | None = None
                 ) -> dict[str, float]:
    """Metrics of ``model_dir`` on ``split``: ``{f"{split}_top1": fraction, ...}``; report in ``out_dir``."""
    folder = Path(model_dir)
    if (folder / WEIGHTS_FILE).is_file():
        from butterflyer.train.evaluate import evaluate as evaluate_model

        raw = evaluate_model(folder, records_uri, split=split, out_dir=out_dir)
    else:
        raw = _score_onnx(folder, records_uri, split, out_dir)
    metrics: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            metrics[key if key.startswith(f"{split}_") else f"{split}_{key}"] = float(value)
    if f"{split}_top1" not in metrics:
        raise ModelError(f"evaluation of {folder} returned no top1 ({sorted(raw)})")
    return metrics


def _score_onnx(folder: Path, records_uri: str, split: str, out_dir: Path | None) -> dict[str, float]:
    """Top-1/top-5 of an ONNX-only folder (e.g. the int8 model) with ONNX Runtime."""
    import numpy as np

    from butterflyer.compress.data import load_split
    from butterflyer.compress.export import LOGITS, onnx_predict, onnx_session

    meta = ModelMeta.load(folder)
    images = load_split(records_uri, split, meta.data_config, meta.labels)
    session = onnx_session(folder)
    logits = np.concatenate([onnx_predict(session, batch)[LOGITS] for batch in images.arrays(64)])
    labels = images.labels
    result = {"top1": topk_accuracy(logits, labels, 1), "top5": topk_accuracy(logits, labels, 5),
              "n": float(len(labels))}
    if out_dir is not None:
        lines = [f"# Evaluation of {folder.name} on {split} (ONNX Runtime)", "",
                 f"- examples: {len(images.labels)}", f"- top-1: **{result['top1']:.4f}**",
                 f"- top-5: {result['top5']:.4f}", ""]
        atomic_write_json(Path(out_dir) / "metrics.json", result)
        atomic_write_text(Path(out_dir) / "report.md", "\n".join(lines))
    return result
