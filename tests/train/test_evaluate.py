"""``evaluate`` on a saved model: report folder contents and failure paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from butterflyer.errors import DataError, ModelError
from butterflyer.models import ModelMeta, create_model, data_config_for, load_model, save_model
from butterflyer.train.evaluate import calibrate, evaluate, predict

from .conftest import LABELS


@pytest.fixture
def saved_model(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = create_model("tiny", len(LABELS))
    meta = ModelMeta(
        architecture="tiny",
        labels=LABELS,
        data_config=data_config_for("tiny"),
        extra={"history": [{"epoch": 1.0, "train_loss": 1.0, "val_top1": 0.5}]},
    )
    return save_model(model, tmp_path / "model", meta)


def test_report_folder_and_metrics_agree_with_predictions(saved_model: Path, image_folder: Path) -> None:
    result = evaluate(saved_model, str(image_folder), "test")
    out = Path(result["report_dir"])
    for name in (
        "report.md",
        "metrics.json",
        "predictions.json",
        "confusion_matrix.png",
        "reliability.png",
        "training_curves.png",
    ):
        assert (out / name).stat().st_size > 0, name
    model, meta = load_model(saved_model)
    logits, labels = predict(model, meta, str(image_folder), "test")
    assert result["n"] == len(labels) == 24
    assert result["top1"] == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert result["top5"] == 1.0  # 3 classes
    preds = json.loads((out / "predictions.json").read_text())
    assert sum(p["true"] == p["predicted"] for p in preds) == round(result["top1"] * 24)
    assert set(result["per_class"]) == set(LABELS)
    assert sum(sum(row) for row in result["confusion_matrix"]) == 24


def test_calibrate_writes_temperature(saved_model: Path, image_folder: Path) -> None:
    t = calibrate(saved_model, str(image_folder))
    assert load_model(saved_model)[1].temperature == pytest.approx(t)
    assert evaluate(saved_model, str(image_folder))["temperature"] == pytest.approx(t)


def test_label_mismatch_and_missing_model_are_clear_errors(
    saved_model: Path, image_folder: Path, tmp_path: Path
) -> None:
    meta = ModelMeta.load(saved_model)
    meta.model_copy(update={"labels": ["A", "B", "C"]}).save(saved_model)
    with pytest.raises(DataError, match="labels"):
        evaluate(saved_model, str(image_folder))
    with pytest.raises(ModelError, match="meta.json"):
        evaluate(tmp_path / "nothing", str(image_folder))
