"""Vertex AI: submit the pipeline (``PipelineJob``) and deploy the champion to an endpoint.

Nothing here has run against Google Cloud (there is none in this project's CI):
the tests build every request against a fake ``aiplatform`` module and check the
arguments. ``google-cloud-aiplatform`` is the ``gcp`` extra and is imported only
when a real call is made. Credentials come from the environment (application
default credentials); nothing is read from files in the repository.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from butterflyer.errors import ConfigError
from butterflyer.pipeline.components import Images
from butterflyer.pipeline.dag import DEFAULT_ACCELERATOR, PIPELINE_NAME

_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SERVE_PORT = 8080


def _gcs(value: str, what: str) -> str:
    if not value.startswith("gs://") or len(value) <= len("gs://"):
        raise ValueError(f"{what} must be a gs:// URI, got {value!r}")
    return value.rstrip("/")


class _Checked(BaseModel):
    project: str
    region: str

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _PROJECT.match(value):
            raise ValueError(f"{value!r} is not a GCP project id (6-30 lowercase letters, digits, hyphens)")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"{value!r} is not a region such as us-central1")
        return value


class SubmitRequest(_Checked):
    """Arguments of ``butterflyer pipeline submit``."""

    pipeline_root: str
    image: str = Field(description="image prefix REGISTRY/REPO[:TAG]; images are <prefix>/<family>:<tag>")
    source: str
    home: str = ""
    service_account: str | None = None
    accelerator: str = DEFAULT_ACCELERATOR
    gpus: int = Field(default=1, ge=0, le=8)
    enable_caching: bool = True
    params: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("pipeline_root")
    @classmethod
    def _root(cls, value: str) -> str:
        return _gcs(value, "--pipeline-root")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"--data {value!r} is a local path, which Vertex AI cannot read; upload it to "
                             "a bucket (gs://...) or give an https:// URL")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value or " " in value or value.startswith(("http://", "https://")):
            raise ValueError(f"--image {value!r} must look like "
                             "us-central1-docker.pkg.dev/PROJECT/REPO[:TAG]")
        return value

    def parameter_values(self) -> dict[str, Any]:
        home = self.home or f"{self.pipeline_root}/home"
        return {"source": self.source, "home": _gcs(home, "--home"), "deploy_target": "none", **self.params}


class DeployRequest(_Checked):
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
        return _gcs(value, "--artifact-root")


def _checked(model: type[BaseModel], values: dict[str, Any]) -> Any:
    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: "
                             f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())
        raise ConfigError(f"invalid Vertex AI arguments: {problems}") from exc


def _aiplatform(module: ModuleType | None) -> Any:
    if module is not None:
        return module
    try:
        from google.cloud import aiplatform
    except ImportError as exc:
        raise ConfigError("google-cloud-aiplatform is not installed: pip install 'butterflyer[gcp]'") from exc
    return aiplatform


def submit_pipeline(values: dict[str, Any] | SubmitRequest, *, aiplatform: ModuleType | None = None,
                    wait: bool = False) -> Any:
    """Compile the DAG for ``request.image`` and the GPU, then submit a ``PipelineJob``; returns the job."""
    from butterflyer.pipeline.compile import compile_pipeline

    request = values if isinstance(values, SubmitRequest) else _checked(SubmitRequest, values)
    api = _aiplatform(aiplatform)
    with tempfile.TemporaryDirectory() as tmp:
        template = compile_pipeline(Path(tmp) / "pipeline.yaml", Images.from_prefix(request.image),
                                    accelerator=request.accelerator, gpus=request.gpus)
        job = api.PipelineJob(display_name=PIPELINE_NAME, template_path=str(template),
                              pipeline_root=request.pipeline_root,
                              parameter_values=request.parameter_values(),
                              enable_caching=request.enable_caching, project=request.project,
                              location=request.region, labels=request.labels or None)
        job.submit(service_account=request.service_account)
    if wait:
        job.wait()
    return job


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
    request = values if isinstance(values, DeployRequest) else _checked(DeployRequest, values)
    if not (Path(model_dir) / "meta.json").is_file():
        raise ConfigError(f"{model_dir} is not a saved model (meta.json missing)")
    api = _aiplatform(aiplatform)
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
