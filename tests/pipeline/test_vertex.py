"""Vertex AI submission and deployment, built against a fake aiplatform module (no GCP here)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from butterflyer.deploy.vertex import deploy_to_vertex
from butterflyer.errors import ConfigError
from butterflyer.pipeline.vertex import submit_pipeline

GOOD = {"project": "my-project", "region": "us-central1", "pipeline_root": "gs://bucket/runs",
        "image": "us-central1-docker.pkg.dev/my-project/butterflyer:0.2", "source": "gs://bucket/butterflies.zip",
        "accelerator": "NVIDIA_TESLA_T4", "gpus": 2,
        "service_account": "sa@my-project.iam.gserviceaccount.com",
        "params": {"epochs": 3}}


class FakeAiplatform:
    """Records every call the code makes; templates are read while they still exist."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        fake = self

        class PipelineJob:
            def __init__(self, **kwargs):
                kwargs["template"] = yaml.safe_load(Path(kwargs["template_path"]).read_text())
                fake.calls.append(("PipelineJob", kwargs))
                self.resource_name = "projects/1/locations/us-central1/pipelineJobs/x"

            def submit(self, **kwargs):
                fake.calls.append(("submit", kwargs))

            def wait(self):
                fake.calls.append(("wait", {}))

        class Model:
            @staticmethod
            def upload(**kwargs):
                fake.calls.append(("Model.upload", kwargs))
                return SimpleNamespace(resource_name="projects/1/models/7",
                                       deploy=lambda **kw: fake.calls.append(("Model.deploy", kw)))

        class Endpoint:
            existing: list = []

            @staticmethod
            def list(**kwargs):
                fake.calls.append(("Endpoint.list", kwargs))
                return Endpoint.existing

            @staticmethod
            def create(**kwargs):
                fake.calls.append(("Endpoint.create", kwargs))
                return SimpleNamespace(resource_name="projects/1/endpoints/9")

        self.PipelineJob, self.Model, self.Endpoint = PipelineJob, Model, Endpoint

    def call(self, name: str) -> dict:
        return next(kwargs for n, kwargs in self.calls if n == name)


def test_submit_builds_the_job_with_images_gpu_and_parameters():
    fake = FakeAiplatform()
    submit_pipeline(GOOD, aiplatform=fake, wait=True)
    job = fake.call("PipelineJob")
    assert job["project"] == "my-project" and job["location"] == "us-central1"
    assert job["pipeline_root"] == "gs://bucket/runs" and job["enable_caching"] is True
    from butterflyer.pipeline.stepcache import code_version

    assert job["parameter_values"] == {"source": "gs://bucket/butterflies.zip", "home": "gs://bucket/runs/home",
                                       "deploy_target": "none", "epochs": 3, "code_version": code_version()}
    executors = job["template"]["deploymentSpec"]["executors"]
    train = executors["exec-train-op"]["container"]
    assert train["image"] == "us-central1-docker.pkg.dev/my-project/butterflyer/train:0.2"
    assert train["resources"]["accelerator"] == {"resourceCount": "2", "resourceType": "NVIDIA_TESLA_T4",
                                                 "count": "2", "type": "NVIDIA_TESLA_T4"} \
        or train["resources"]["accelerator"]["resourceCount"] == "2"
    assert executors["exec-collect-op"]["container"]["image"].endswith("/data:0.2")
    assert fake.call("submit") == {"service_account": "sa@my-project.iam.gserviceaccount.com"}
    assert [n for n, _ in fake.calls] == ["PipelineJob", "submit", "wait"]


@pytest.mark.parametrize(("change", "message"), [
    ({"source": "../shared/datasets/butterflies-100.zip"}, "local path"),
    ({"pipeline_root": "/tmp/runs"}, "gs://"),
    ({"project": "X"}, "project id"),
    ({"region": "mars"}, "region"),
    ({"gpus": 99}, "gpus"),
])
def test_submit_refuses_bad_arguments_before_any_call(change, message):
    fake = FakeAiplatform()
    with pytest.raises(ConfigError, match=message):
        submit_pipeline({**GOOD, **change}, aiplatform=fake)
    assert fake.calls == []


def _model_folder(tmp_path: Path) -> Path:
    from butterflyer.models import ModelMeta, create_model, save_model

    return save_model(create_model("tiny", 2, pretrained=False), tmp_path / "m",
                      ModelMeta(architecture="tiny", labels=["a", "b"]))


def test_deploy_uploads_registers_and_deploys(tmp_path):
    fake = FakeAiplatform()
    uploaded = []

    def uploader(folder, destination):
        uploaded.append((sorted(p.name for p in folder.iterdir()), destination))
        return destination

    out = deploy_to_vertex(_model_folder(tmp_path), {"project": "my-project", "region": "europe-west4",
                                                     "serving_image": "eu.gcr.io/my-project/serve:1",
                                                     "artifact_root": "gs://b/models"},
                           display_name="butterflyer-v3", aiplatform=fake, uploader=uploader)
    assert uploaded == [(["meta.json", "model.safetensors"], "gs://b/models/butterflyer-v3")]
    upload = fake.call("Model.upload")
    assert upload["artifact_uri"] == "gs://b/models/butterflyer-v3"
    assert upload["serving_container_image_uri"] == "eu.gcr.io/my-project/serve:1"
    assert upload["serving_container_health_route"] == "/readyz"
    assert upload["serving_container_ports"] == [8080]
    assert upload["location"] == "europe-west4"
    assert fake.call("Endpoint.create")["display_name"] == "butterflyer"
    deploy = fake.call("Model.deploy")
    assert deploy["machine_type"] == "n1-standard-2" and deploy["traffic_percentage"] == 100
    assert out == {"model": "projects/1/models/7", "endpoint": "projects/1/endpoints/9",
                   "artifact_uri": "gs://b/models/butterflyer-v3"}


def test_deploy_refuses_bad_arguments(tmp_path):
    fake = FakeAiplatform()
    with pytest.raises(ConfigError, match="gs://"):
        deploy_to_vertex(_model_folder(tmp_path), {"project": "my-project", "region": "us-central1",
                                                   "serving_image": "x", "artifact_root": "/local"},
                         display_name="m", aiplatform=fake, uploader=lambda f, d: d)
    assert fake.calls == []
