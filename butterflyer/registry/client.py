"""One place that opens the MLflow client on the project's tracking/registry store.

MLflow is imported lazily: it takes seconds to import and most commands never
touch the registry.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from butterflyer.errors import RegistryError
from butterflyer.paths import mlflow_artifacts_dir, mlflow_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

REGISTRY_EXPERIMENT = "butterflyer-registry"


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """A store that cannot be read (corrupt or locked file, server down) becomes a clear RegistryError;
    "no versions yet" is only ever said of a store that answered."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except RegistryError:
        raise
    except (MlflowException, SQLAlchemyError, OSError) as exc:
        if isinstance(exc, MlflowException) and getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RegistryError(f"the model registry at {mlflow_uri()} cannot be read ({first}); check that the "
                            "file is an MLflow database and no other process holds it, or point "
                            "MLFLOW_TRACKING_URI at a working store") from exc



def get_client() -> MlflowClient:
    """An ``MlflowClient`` on ``paths.mlflow_uri()`` (the same store training logs to)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        from mlflow import MlflowClient
    except ImportError as exc:  # pragma: no cover - mlflow is a core dependency
        raise RegistryError("mlflow is not installed; run 'make setup'") from exc
    uri = mlflow_uri()
    with store_errors():
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
    from mlflow.exceptions import MlflowException

    location = (mlflow_artifacts_dir() / "registry").as_uri() if is_local_store() else None
    try:
        return client.create_experiment(REGISTRY_EXPERIMENT, artifact_location=location)
    except MlflowException:  # another process created it between the two calls
        exp = client.get_experiment_by_name(REGISTRY_EXPERIMENT)
        if exp is None:
            raise
        return exp.experiment_id
