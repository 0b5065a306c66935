"""One place that opens the MLflow client on the project's tracking/registry store.

MLflow is imported lazily: it takes seconds to import and most commands never
touch the registry.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from butterflyer.errors import RegistryError
from butterflyer.paths import mlflow_artifacts_dir, mlflow_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

REGISTRY_EXPERIMENT = "butterflyer-registry"


def get_client() -> MlflowClient:
    """An ``MlflowClient`` on ``paths.mlflow_uri()`` (the same store training logs to)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        from mlflow import MlflowClient
    except ImportError as exc:  # pragma: no cover - mlflow is a core dependency
        raise RegistryError("mlflow is not installed; run 'make setup'") from exc
    uri = mlflow_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def is_local_store(uri: str | None = None) -> bool:
    """True when the tracking store is a local SQLite file or folder (we then choose the artifact root)."""
    uri = uri or mlflow_uri()
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def registry_experiment_id(client: MlflowClient) -> str:
    """Id of the experiment that holds registration runs (created on first use)."""
    exp = client.get_experiment_by_name(REGISTRY_EXPERIMENT)
    if exp is not None:
        return exp.experiment_id
    location = (mlflow_artifacts_dir() / "registry").as_uri() if is_local_store() else None
    try:
        return client.create_experiment(REGISTRY_EXPERIMENT, artifact_location=location)
    except Exception:  # another process created it between the two calls
        exp = client.get_experiment_by_name(REGISTRY_EXPERIMENT)
        if exp is None:
            raise
        return exp.experiment_id
