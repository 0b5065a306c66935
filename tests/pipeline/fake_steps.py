"""Stand-in stages for DAG tests: tiny, fast, and they log every call.

The pipeline's components import this module instead of ``butterflyer.pipeline.steps``
when ``BUTTERFLYER_PIPELINE_STEPS=fake_steps`` (and this folder is on PYTHONPATH).
The registry and deploy steps are the real ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from butterflyer import paths
from butterflyer.pipeline import steps as real
from butterflyer.pipeline.stepcache import cached_step

deploy = real.deploy


def register(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The real registration and promotion; a champion from older data scores 0.8 on any new split."""
    real.evaluate_any = lambda model_dir, records_uri, **kw: {"test_top1": 0.8}
    return real.register(*args, **kwargs)


def _log(step: str) -> None:
    with open(paths.home() / "calls.log", "a", encoding="utf-8") as fh:
        fh.write(step + "\n")


def collect(source: str) -> dict[str, Any]:
    _log("collect")
    raw = paths.raw_dir() / "src"
    raw.mkdir(parents=True, exist_ok=True)
    data = Path(source).read_text()
    (raw / "data.txt").write_text(data)
    return {"uri": str(raw), "sha256": hashlib.sha256(data.encode()).hexdigest()}


def prepare(raw_uri: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    _log("prepare")
    out = paths.interim_dir()
    (out / "report.md").write_text("# Data report\n\nfake\n")
    digest = hashlib.sha256((Path(raw_uri) / "data.txt").read_bytes()).hexdigest()
    return {"uri": str(out), "report": str(out / "report.md"), "interim_sha256": digest}


def build_records(interim_uri: str, output: str = "", runner: str = "local") -> dict[str, Any]:
    _log("build_records")
    out = Path(output or paths.records_dir())
    out.mkdir(parents=True, exist_ok=True)
    data = (paths.raw_dir() / "src" / "data.txt").read_text()
    (out / "manifest.json").write_text(json.dumps({"data": data}))
    return {"uri": str(out), "manifest_sha256": f"sha-{data.strip()}", "counts": {"train": 3}}


def train(records_uri: str, records_sha: str, model: str, epochs: int, profile: str, seed: int,
          overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        _log("train")
        import torch

        from butterflyer.models import ModelMeta, create_model, save_model

        torch.manual_seed(seed + len(records_sha))
        folder = paths.runs_dir() / f"fake-{records_sha}-{seed}"
        meta = ModelMeta(architecture="tiny", labels=["a", "b", "c"], data_manifest_sha256=records_sha)
        save_model(create_model("tiny", 3, pretrained=False), folder, meta)
        return {"uri": str(folder), "metrics": {"val_top1": 0.5}}

    return cached_step("train", {"records_sha": records_sha, "seed": seed}, run)


def evaluate(model_uri: str, records_uri: str, records_sha: str, split: str = "test") -> dict[str, Any]:
    _log("evaluate")
    top1 = float(json.loads((Path(records_uri) / "manifest.json").read_text()).get("top1", 0.8))
    top1 = 0.9 if "better" in records_sha else 0.6 if "worse" in records_sha else top1
    return {"uri": model_uri, "metrics": {"test_top1": top1, "test_top5": 1.0}, "report": ""}


def compress(teacher_uri: str, records_uri: str, records_sha: str, enabled: bool,
             config: dict[str, Any] | None = None, target: float = 0.0) -> dict[str, Any]:
    _log("compress")
    return {"uri": teacher_uri, "report": "", "metrics": {}}


def fit_serving(model_uri: str, records_uri: str, records_sha: str, per_class: int = 30) -> dict[str, Any]:
    _log("fit_serving")
    return {"uri": model_uri, "serving_sha": records_sha}
