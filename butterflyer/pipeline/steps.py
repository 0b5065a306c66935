"""Stage adapters: what each pipeline component actually does.

Each function takes plain values (URIs, numbers, dicts), calls the package's
stage function, and returns a typed result (:mod:`butterflyer.pipeline.results`)
whose ``uri`` is where the output lives. The expensive steps (train, evaluate,
compress) go through :func:`~butterflyer.pipeline.stepcache.cached_step`, keyed by
their inputs' content hashes and the code they run, so a rerun skips them even
when the orchestrator's own cache does not apply. Heavy imports happen inside
the functions so a component only loads what its stage needs.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from butterflyer import paths
from butterflyer.errors import ConfigError, ModelError
from butterflyer.fileio import atomic_write_json, sha256_file
from butterflyer.pipeline.progress import reporter
from butterflyer.pipeline.results import (
    Deployment,
    Evaluation,
    Interim,
    RawData,
    Records,
    Registration,
    ServingFit,
    ShippedModel,
    TrainedModel,
)
from butterflyer.pipeline.stepcache import cached_step


def use_home(home: str) -> None:
    """Point ``BUTTERFLYER_HOME`` at ``home`` when given (``gs://b/p`` becomes the ``/gcs/b/p`` mount)."""
    if home:
        if home.startswith("gs://"):
            home = "/gcs/" + home[len("gs://"):]
        os.environ[paths.HOME_ENV] = home


def _meta_metrics(model_dir: Path) -> dict[str, float]:
    """A model folder's metrics (fractions: :class:`~butterflyer.models.meta.ModelMeta` checks)."""
    from butterflyer.models.meta import ModelMeta

    return dict(ModelMeta.load(model_dir).metrics)


def _folder_digest(folder: Path) -> str:
    """Content hash of a model folder's weight files and meta.json."""
    from butterflyer.registry.lineage import model_fingerprint

    return model_fingerprint(folder)


# -- data -----------------------------------------------------------------------------------------

def collect(source: str) -> RawData:
    """Copy ``source`` into ``raw/`` (the data stage itself does no work for a known source)."""
    from butterflyer.data.collect import collect as collect_source

    if not source.strip():
        raise ConfigError("the pipeline's 'source' parameter is empty; pass a folder, archive, URL or bucket")
    manifest = collect_source(source)
    return RawData(uri=str(manifest["root"]), sha256=str(manifest["fingerprint"]),
                   count=int(manifest["count"]), bytes=int(manifest["bytes"]), source=str(manifest["source"]))


def prepare(raw_uri: str, config: dict[str, Any] | None = None) -> Interim:
    """Validate, de-duplicate and split ``raw_uri`` into ``interim/``."""
    from butterflyer.data.prepare import PrepareConfig
    from butterflyer.data.prepare import prepare as prepare_raw
    from butterflyer.data.report import REPORT_FILE

    settings = dict(config or {})
    if "ratios" in settings:
        settings["ratios"] = tuple(settings["ratios"])
    summary = prepare_raw(raw=Path(raw_uri), config=PrepareConfig(**settings))
    interim = paths.interim_dir()
    report = interim / REPORT_FILE
    return Interim(uri=str(interim), interim_sha256=_interim_digest(interim),
                   counts={k: int(v) for k, v in summary["counts"].items()}, kept=int(summary["kept"]),
                   quarantined=int(summary["quarantined"]), report=str(report) if report.is_file() else "")


def _interim_digest(folder: Path) -> str:
    """Content hash of the split CSVs and labels: it changes exactly when the records must."""
    digest = hashlib.sha256()
    for name in ("labels.json", "train.csv", "val.csv", "test.csv"):
        path = folder / name
        digest.update(name.encode())
        digest.update(sha256_file(path).encode() if path.is_file() else b"-")
    return digest.hexdigest()


def build_records(interim_uri: str, output: str = "", runner: str = "local") -> Records:
    """Sharded TFRecords of ``interim_uri`` (the data stage resumes and skips finished work)."""
    from butterflyer.data.manifest import content_digest
    from butterflyer.data.records import build_records as build

    target = output or str(paths.records_dir())
    manifest = build(interim=Path(interim_uri), output=target, runner=runner)
    counts = {split: int(info["count"]) for split, info in manifest["splits"].items()}
    return Records(uri=target, manifest_sha256=content_digest(manifest), counts=counts,
                   num_classes=int(manifest["num_classes"]))


# -- models ---------------------------------------------------------------------------------------

def train(records_uri: str, records_sha: str, model: str, epochs: int, profile: str, seed: int,
          overrides: dict[str, Any] | None = None) -> TrainedModel:
    """Train ``model`` on the records; skipped when records, settings, seed and code are unchanged."""
    settings: dict[str, Any] = {"model": model, "profile": profile, "seed": seed, **(overrides or {})}
    if epochs > 0:
        settings["epochs"] = epochs

    def run() -> TrainedModel:
        from butterflyer.train.config import TrainConfig
        from butterflyer.train.trainer import train as train_model

        key = step_key_short("train", records_sha, settings)
        config = TrainConfig(input=records_uri, output=str(paths.runs_dir() / f"pipeline-{model}-{key}"),
                             run_name=f"pipeline-{model}-{key}", **settings)
        result = train_model(config, progress=reporter("train"))
        return TrainedModel(uri=str(result.model_dir), metrics=dict(result.metrics),
                            run_id=result.run_id or "")

    return cached_step("train", {"records_sha": records_sha, "settings": settings}, run, TrainedModel)


def step_key_short(name: str, *parts: Any) -> str:
    from butterflyer.pipeline.stepcache import step_key

    return step_key(name, {"parts": list(parts)})[:12]


def evaluate(model_uri: str, records_uri: str, records_sha: str, split: str = "test") -> Evaluation:
    """Top-1/top-5, calibration and plots of a model on ``split``; skipped when nothing changed."""
    model_dir = Path(model_uri)
    digest = _folder_digest(model_dir)

    def run() -> Evaluation:
        from butterflyer.train.score import score_folder

        out_dir = paths.runs_dir() / "evaluations" / f"{digest[:16]}-{records_sha[:12]}-{split}"
        metrics = score_folder(model_dir, records_uri, split=split, out_dir=out_dir)
        report = out_dir / "report.md"  # both scorers write it
        return Evaluation(uri=str(out_dir), metrics=metrics, report=str(report) if report.is_file() else "")

    return cached_step("evaluate", {"model": digest, "records_sha": records_sha, "split": split}, run,
                       Evaluation)


def compress(teacher_uri: str, records_uri: str, records_sha: str, enabled: bool,
             config: dict[str, Any] | None = None, target: float = 0.0) -> ShippedModel:
    """The model the app ships: the teacher's int8 ONNX (profile ``int8``, the default), the fastest
    variant that passes the shipping rule (``config={"profile": "fast"}``, or any ``target``), or the
    teacher exported to ONNX (``enabled=False``).

    ``target`` (fraction of the teacher's MACs to keep) asks for pruning and overrides ``config``.
    """
    teacher = Path(teacher_uri)
    digest = _folder_digest(teacher)
    settings = dict(config or {})
    if target > 0:
        settings["target"] = target
    resolved: dict[str, Any] = {}
    if enabled:  # the resolved profile: a change of the profile's defaults must rerun the step
        from butterflyer.compress.config import profile_config

        overrides = dict(settings)
        resolved = profile_config(_profile_of(overrides), **overrides).model_dump()

    def run() -> ShippedModel:
        key = step_key_short("c", settings, enabled, resolved)
        out_dir = paths.models_dir() / f"pipeline-{digest[:12]}-{key}"
        if not enabled:
            from butterflyer.compress.export import export_onnx

            shipped = Path(export_onnx(teacher, out_dir / "onnx"))
            return ShippedModel(uri=str(shipped), metrics=_meta_metrics(shipped))
        from butterflyer.compress.config import profile_config
        from butterflyer.compress.stage import compress as compress_model

        overrides = dict(settings)
        profile = _profile_of(overrides)
        result = compress_model(teacher, records_uri, out_dir, profile_config(profile, **overrides),
                                progress=reporter("compress"))
        return ShippedModel(uri=str(result.ship_dir), report=str(result.report_md),
                            metrics=_meta_metrics(result.ship_dir), paths=[str(out_dir)])

    return cached_step("compress", {"teacher": digest, "records_sha": records_sha, "enabled": enabled,
                                    "settings": settings, "resolved": resolved}, run, ShippedModel)


def _profile_of(overrides: dict[str, Any]) -> str:
    """The compression profile named in (and removed from) ``overrides``: ``int8`` unless a pruning target
    is asked for. Pruning on 2 cores costs minutes, and its model has not yet passed the gate check."""
    return str(overrides.pop("profile", "fast" if "target" in overrides else "int8"))


def fit_serving(model_uri: str, records_uri: str, records_sha: str, per_class: int | None = None
                ) -> ServingFit:
    """Fit the app's not-a-butterfly gate (train photos) and roll-up thresholds (val) into meta.json.

    The result travels with the model (``meta.extra["serving"]``); a folder already fitted on these
    records is left alone.
    """
    from butterflyer.models.meta import ModelMeta

    folder = Path(model_uri)
    fitted = (ModelMeta.load(folder).extra.get("serving") or {}).get("fitted") or {}
    reused = fitted.get("records_sha") == records_sha  # the compress step's gate check may have fitted it
    if not reused:
        from butterflyer.serve.fit import fit_model_folder

        fitted = fit_model_folder(folder, records_uri, per_class=per_class, threads=0)["fitted"]
    numbers = {k: float(v) for k, v in fitted.items()
               if isinstance(v, int | float) and not isinstance(v, bool) and k != "seconds"}
    return ServingFit(uri=str(folder), serving_sha=records_sha, fitted=numbers, cached=reused,
                      reason="already fitted on these records" if reused else "fitted")


# -- registry and deployment ----------------------------------------------------------------------

def register(model_uri: str, metrics: dict[str, float], *, report: str = "", name: str = "butterflyer",
             challenge: bool = True, margin: float = 0.0, min_top1: float = 0.0,
             latency_budget_ms: float = 250.0, records_uri: str = "", extra_tags: dict[str, str] | None = None
             ) -> Registration:
    """Register a model with its lineage; with ``challenge`` make it the challenger and decide promotion."""
    from butterflyer.registry.promotion import PromotionConfig, register_and_decide

    config = PromotionConfig(margin=margin, min_top1=min_top1, latency_budget_ms=latency_budget_ms)
    done = register_and_decide(model_uri, name=name, metrics=metrics, report=report, challenge=challenge,
                               config=config, records_uri=records_uri, extra_tags=extra_tags)
    return Registration(uri=str(model_uri), **asdict(done))


def deploy(target: str, name: str = "butterflyer", vertex: dict[str, Any] | None = None) -> Deployment:
    """Make the champion live: ``local`` records it for ``butterflyer serve`` (which hot-swaps on the
    alias), ``vertex`` uploads it to Vertex AI and deploys an endpoint, ``none`` does nothing."""
    from butterflyer.registry import CHAMPION, store

    champion = store.alias_version(CHAMPION, name)
    if champion is None:
        raise ModelError(f"model {name!r} has no champion to deploy")
    record: dict[str, Any] = {"target": target, "version": champion.version,
                              "model_uri": f"models:/{name}@{CHAMPION}",
                              "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "vertex": {}}
    if target == "vertex":
        from butterflyer.deploy.vertex import DeployRequest, deploy_to_vertex
        from butterflyer.registry.resolve import resolve_model_uri

        request = DeployRequest(**(vertex or {}))
        record["vertex"] = deploy_to_vertex(resolve_model_uri(champion.uri), request,
                                            display_name=f"{name}-v{champion.version}")
    elif target not in ("local", "none"):
        raise ConfigError(f"unknown deploy target {target!r}; use local, vertex or none")
    path = paths.home() / "pipeline" / "deployed.json"
    atomic_write_json(path, record)
    return Deployment(uri=str(path), **record)
