"""Vertex AI: deploy a model folder (the champion) to an endpoint.

Nothing here has run against Google Cloud (there is none in this project's CI):
the tests build every request against a fake ``aiplatform`` module and check the
arguments. Credentials come from the environment (application default
credentials); nothing is read from files in the repository. Submitting the
pipeline is :mod:`butterflyer.pipeline.vertex`.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import Field, field_validator

from butterflyer.errors import ConfigError
from butterflyer.gcp import GcpTarget, aiplatform_module, checked, gcs_uri

SERVE_PORT = 8080


class DeployRequest(GcpTarget):
    """Arguments of ``butterflyer deploy vertex`` (and of the pipeline's deploy step on Vertex)."""

    serving_image: str
    artifact_root: str = Field(description="gs:// folder the model folder is copied to")
    endpoint: str = "butterflyer"
    machine_type: str = "n1-standard-2"
    min_replicas: int = Field(default=1, ge=1, le=100)
    max_replicas: int = Field(default=2, ge=1, le=100)
    traffic_percentage: int = Field(default=100, ge=0, le=100)
    predict_route: str = "/v1/vertex/predict"
    service_account: str | None = None

    @field_validator("artifact_root")
    @classmethod
    def _artifacts(cls, value: str) -> str:
        return gcs_uri(value, "--artifact-root")


def upload_folder(model_dir: Path, destination: str) -> str:
    """Copy a model folder to ``destination`` (gs://...) with fsspec; returns the URI."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(destination)
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file():
            fs.put_file(str(path), f"{root.rstrip('/')}/{path.relative_to(model_dir).as_posix()}")
    return destination


def deploy_to_vertex(model_dir: Path, values: dict[str, Any] | DeployRequest, display_name: str, *,
                     aiplatform: ModuleType | None = None, uploader: Any = upload_folder) -> dict[str, str]:
    """Upload the model folder and the serving container to the Vertex AI Model Registry, then deploy
    it to the endpoint named ``request.endpoint`` (created if missing). Returns resource names."""
    request = values if isinstance(values, DeployRequest) else checked(DeployRequest, values)
    if not (Path(model_dir) / "meta.json").is_file():
        raise ConfigError(f"{model_dir} is not a saved model (meta.json missing)")
    api = aiplatform_module(aiplatform)
    artifact_uri = uploader(Path(model_dir), f"{request.artifact_root}/{display_name}")
    # The serve image's entry point serves AIP_STORAGE_URI (Vertex's copy of artifact_uri) on AIP_HTTP_PORT.
    model = api.Model.upload(
        display_name=display_name, artifact_uri=artifact_uri,
        serving_container_image_uri=request.serving_image,
        serving_container_predict_route=request.predict_route, serving_container_health_route="/readyz",
        serving_container_ports=[SERVE_PORT], project=request.project, location=request.region,
        labels={"app": "butterflyer"})
    found = api.Endpoint.list(filter=f'display_name="{request.endpoint}"', project=request.project,
                              location=request.region)
    endpoint = found[0] if found else api.Endpoint.create(display_name=request.endpoint,
                                                          project=request.project, location=request.region)
    model.deploy(endpoint=endpoint, deployed_model_display_name=display_name,
                 machine_type=request.machine_type,
                 min_replica_count=request.min_replicas, max_replica_count=request.max_replicas,
                 traffic_percentage=request.traffic_percentage, service_account=request.service_account)
    return {"model": str(model.resource_name), "endpoint": str(endpoint.resource_name),
            "artifact_uri": artifact_uri}
