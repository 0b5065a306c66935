"""The MLflow run holds params, per-epoch metrics and artifacts; W&B logs offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterflyer.paths import mlflow_uri
from butterflyer.train.config import TrainConfig
from butterflyer.train.trainer import train


def _cfg(data: Path, out: Path, tracker: str) -> TrainConfig:
    return TrainConfig(
        input=str(data),
        output=str(out),
        model="tiny",
        profile="full",
        epochs=3,
        head_epochs=1,
        batch_size=8,
        lr=3e-3,
        augment="none",
        tracker=tracker,
        patience=0,
    )


def test_mlflow_run_has_params_metrics_and_artifacts(image_folder: Path, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    result = train(_cfg(image_folder, tmp_path / "run", "mlflow"))
    assert result.run_id
    client = MlflowClient(tracking_uri=mlflow_uri())
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model"] == "tiny" and run.data.params["epochs"] == "3"
    assert run.data.tags["data_manifest_sha256"]
    assert run.data.metrics["test_top1"] == pytest.approx(result.metrics["test_top1"])
    per_epoch = client.get_metric_history(result.run_id, "val_top1")
    assert sorted(m.step for m in per_epoch)[:3] == [1, 2, 3]
    top = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"model", "report-test", "config.json"} <= top
    model_files = {Path(a.path).name for a in client.list_artifacts(result.run_id, "model")}
    assert {"model.safetensors", "meta.json"} <= model_files
    report = {Path(a.path).name for a in client.list_artifacts(result.run_id, "report-test")}
    assert {"confusion_matrix.png", "reliability.png", "training_curves.png", "report.md"} <= report


def test_wandb_offline(image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    result = train(_cfg(image_folder, tmp_path / "run", "wandb"))
    assert result.run_id
    offline = list((tmp_path / "run" / "wandb").rglob(f"*{result.run_id}*"))
    assert offline, "the offline W&B run folder is missing"
    assert list((tmp_path / "run" / "wandb").rglob("*.wandb"))


def test_resume_continues_the_same_mlflow_run(image_folder: Path, tmp_path: Path) -> None:
    cfg = _cfg(image_folder, tmp_path / "run", "mlflow")
    first = train(cfg)
    again = train(cfg.model_copy(update={"resume": True}))
    assert again.run_id == first.run_id
