"""Stand-in stages for DAG tests: tiny, fast, and they log every call.

The pipeline's components use this module instead of ``butterflyer.pipeline.steps``
in subprocesses that load ``fake_site/sitecustomize.py`` (see the ``fake_stages`` fixture).
The registry and deploy steps are the real ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from butterflyer import paths
from butterflyer.pipeline import results as R
from butterflyer.pipeline import steps as real
from butterflyer.pipeline.stepcache import cached_step

deploy = real.deploy
use_home = real.use_home


def register(*args: Any, **kwargs: Any) -> R.Registration:
    """The real registration and promotion; a champion from older data scores 0.8 on any new split."""
    from butterflyer.registry import promotion

    promotion.champion_scorer = lambda records_uri: (lambda champion: 0.8)
    return real.register(*args, **kwargs)


def _log(step: str) -> None:
    with open(paths.home() / "calls.log", "a", encoding="utf-8") as fh:
        fh.write(step + "\n")


def collect(source: str) -> R.RawData:
    _log("collect")
    raw = paths.raw_dir() / "src"
    raw.mkdir(parents=True, exist_ok=True)
    data = Path(source).read_text()
    (raw / "data.txt").write_text(data)
    return R.RawData(uri=str(raw), sha256=hashlib.sha256(data.encode()).hexdigest(), count=1,
                   bytes=len(data), source=source)


def prepare(raw_uri: str, config: dict[str, Any] | None = None) -> R.Interim:
    _log("prepare")
    out = paths.interim_dir()
    (out / "report.md").write_text("# Data report\n\nfake\n")
    digest = hashlib.sha256((Path(raw_uri) / "data.txt").read_bytes()).hexdigest()
    return R.Interim(uri=str(out), report=str(out / "report.md"), interim_sha256=digest)


def build_records(interim_uri: str, output: str = "", runner: str = "local") -> R.Records:
    _log("build_records")
    out = Path(output or paths.records_dir())
    out.mkdir(parents=True, exist_ok=True)
    data = (paths.raw_dir() / "src" / "data.txt").read_text()
    (out / "manifest.json").write_text(json.dumps({"data": data}))
    return R.Records(uri=str(out), manifest_sha256=f"sha-{data.strip()}", counts={"train": 3})


def train(records_uri: str, records_sha: str, model: str, epochs: int, profile: str, seed: int,
          overrides: dict[str, Any] | None = None) -> R.TrainedModel:
    def run() -> R.TrainedModel:
        _log("train")
        import torch

        from butterflyer.models import ModelMeta, create_model, save_model

        torch.manual_seed(seed + len(records_sha))
        folder = paths.runs_dir() / f"fake-{records_sha}-{seed}"
        meta = ModelMeta(architecture="tiny", labels=["a", "b", "c"], data_manifest_sha256=records_sha)
        save_model(create_model("tiny", 3, pretrained=False), folder, meta)
        return R.TrainedModel(uri=str(folder), metrics={"val_top1": 0.5})

    return cached_step("train", {"records_sha": records_sha, "seed": seed}, run, R.TrainedModel)


def evaluate(model_uri: str, records_uri: str, records_sha: str, split: str = "test") -> R.Evaluation:
    _log("evaluate")
    top1 = float(json.loads((Path(records_uri) / "manifest.json").read_text()).get("top1", 0.8))
    top1 = 0.9 if "better" in records_sha else 0.6 if "worse" in records_sha else top1
    return R.Evaluation(uri=model_uri, metrics={"test_top1": top1, "test_top5": 1.0})


def compress(teacher_uri: str, records_uri: str, records_sha: str, enabled: bool,
             config: dict[str, Any] | None = None, target: float = 0.0) -> R.ShippedModel:
    _log("compress")
    return R.ShippedModel(uri=teacher_uri)


def fit_serving(model_uri: str, records_uri: str, records_sha: str, per_class: int = 30) -> R.ServingFit:
    _log("fit_serving")
    return R.ServingFit(uri=model_uri, serving_sha=records_sha)
