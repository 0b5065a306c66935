"""Vertex AI Pipelines: compile the DAG for your images and GPU, then submit a ``PipelineJob``.

Nothing here has run against Google Cloud (there is none in this project's CI):
the tests build every request against a fake ``aiplatform`` module and check the
arguments. Credentials come from the environment (application default
credentials). Deploying the champion to an endpoint is :mod:`butterflyer.deploy.vertex`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import Field, field_validator

from butterflyer.gcp import GcpTarget, aiplatform_module, checked, gcs_uri
from butterflyer.pipeline.components import Images
from butterflyer.pipeline.dag import DEFAULT_ACCELERATOR, PIPELINE_NAME


class SubmitRequest(GcpTarget):
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
        return gcs_uri(value, "--pipeline-root")

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
        from butterflyer.pipeline.stepcache import code_version

        home = self.home or f"{self.pipeline_root}/home"
        return {"source": self.source, "home": gcs_uri(home, "--home"), "deploy_target": "none",
                "code_version": code_version(), **self.params}


def submit_pipeline(values: dict[str, Any] | SubmitRequest, *, aiplatform: ModuleType | None = None,
                    wait: bool = False) -> Any:
    """Compile the DAG for ``request.image`` and the GPU, then submit a ``PipelineJob``; returns the job."""
    from butterflyer.pipeline.compile import compile_pipeline

    request = values if isinstance(values, SubmitRequest) else checked(SubmitRequest, values)
    api = aiplatform_module(aiplatform)
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
