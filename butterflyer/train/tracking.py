"""Experiment tracking behind one small interface: MLflow (default), W&B, or none.

MLflow logs to ``butterflyer.paths.mlflow_uri()`` (SQLite under
``BUTTERFLYER_HOME`` unless ``MLFLOW_TRACKING_URI`` or ``--tracking-uri`` says
otherwise, e.g. a team server). W&B is imported only when chosen; set
``WANDB_MODE=offline`` to log without an account. Credentials come from the
environment only (``WANDB_API_KEY``, ``MLFLOW_TRACKING_TOKEN``, ...).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Protocol

from butterflyer.errors import ConfigError

log = logging.getLogger(__name__)


class Tracker(Protocol):
    run_id: str | None

    def log_params(self, params: dict[str, Any]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...
    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None: ...
    def set_tags(self, tags: dict[str, str]) -> None: ...
    def finish(self, status: str = "FINISHED") -> None: ...


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and math.isfinite(float(v))}


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]
    return flat


class NullTracker:
    """Logs nothing (``--tracker none``)."""

    run_id: str | None = None

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def set_tags(self, tags: dict[str, str]) -> None:
        pass

    def finish(self, status: str = "FINISHED") -> None:
        pass


class MlflowTracker:
    """One MLflow run; artifacts go to the store's artifact root."""

    def __init__(
        self,
        experiment: str,
        run_name: str | None,
        tracking_uri: str | None = None,
        resume_run_id: str | None = None,
    ) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        from butterflyer.paths import mlflow_artifacts_dir, mlflow_uri

        uri = tracking_uri or mlflow_uri()
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            location = mlflow_artifacts_dir().as_uri() if uri.startswith("sqlite:") else None
            exp_id = self.client.create_experiment(experiment, artifact_location=location)
        else:
            exp_id = found.experiment_id
        self.run_id = (
            self._reopen(resume_run_id) or self.client.create_run(exp_id, run_name=run_name).info.run_id
        )
        self.uri = uri
        self._mlflow = mlflow
        log.info("MLflow run %s at %s", self.run_id, uri)

    def _reopen(self, run_id: str | None) -> str | None:
        """Continue an earlier run (``--resume``) when the store still has it."""
        if not run_id:
            return None
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_run(run_id)
        except MlflowException as exc:  # a run that is gone starts a new one; a broken store is an error
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return None
        self.client.update_run(run_id, status="RUNNING")
        return run_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        logged = self.client.get_run(self.run_id).data.params  # params are immutable: skip those already set
        items = [Param(k, v) for k, v in _flatten(params).items() if k not in logged]
        for i in range(0, len(items), 90):
            self.client.log_batch(self.run_id, params=items[i : i + 90])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step or 0) for k, v in _finite(metrics).items()]
        if items:
            self.client.log_batch(self.run_id, metrics=items)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        elif path.is_file():
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status=status)


class WandbTracker:
    """One Weights & Biases run (``WANDB_MODE=offline`` works without network or account)."""

    run_id: str | None

    def __init__(self, project: str, run_name: str | None, directory: Path) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise ConfigError(
                "--tracker wandb needs the wandb package: pip install 'butterflyer[wandb]'"
            ) from exc
        directory.mkdir(parents=True, exist_ok=True)
        self._wandb = wandb
        self.run = wandb.init(project=project, name=run_name, dir=str(directory), reinit=True)
        self.run_id = self.run.id

    def log_params(self, params: dict[str, Any]) -> None:
        self.run.config.update(_flatten(params), allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.run.log(_finite(metrics), step=step)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        name = (artifact_path or path.stem).replace("/", "-")
        art = self._wandb.Artifact(name=name, type="model" if path.is_dir() else "file")
        if path.is_dir():
            art.add_dir(str(path))
        elif path.is_file():
            art.add_file(str(path))
        else:
            return
        self.run.log_artifact(art)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.run.summary.update(tags)

    def finish(self, status: str = "FINISHED") -> None:
        self.run.finish(exit_code=0 if status == "FINISHED" else 1)


def make_tracker(
    kind: str,
    experiment: str,
    run_name: str | None,
    run_dir: Path,
    tracking_uri: str | None = None,
    resume_run_id: str | None = None,
) -> Tracker:
    """The tracker named by ``--tracker``; ``resume_run_id`` continues that MLflow run."""
    if kind == "mlflow":
        return MlflowTracker(experiment, run_name, tracking_uri, resume_run_id)
    if kind == "wandb":
        return WandbTracker(experiment, run_name, run_dir / "wandb")
    if kind == "none":
        return NullTracker()
    raise ConfigError(f"unknown tracker {kind!r}; choose mlflow, wandb or none")
