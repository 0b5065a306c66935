"""Stage adapters: what each pipeline component actually does.

Each function takes plain values (URIs, numbers, dicts), calls the package's
stage function, and returns a small JSON-able dict whose ``"uri"`` is where the
output lives and whose other keys become artifact metadata. The expensive steps
(train, evaluate, compress) go through :func:`~butterflyer.pipeline.stepcache.cached_step`,
keyed by their inputs' content hashes, so a rerun skips them even when the
orchestrator's own cache does not apply. Heavy imports happen inside the
functions so a component only loads what its stage needs.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from butterflyer import paths
from butterflyer.errors import ConfigError, DataError, ModelError
from butterflyer.fileio import atomic_write_json, sha256_file
from butterflyer.pipeline.stepcache import cached_step


def use_home(home: str) -> None:
    """Point ``BUTTERFLYER_HOME`` at ``home`` when given (``gs://b/p`` becomes the ``/gcs/b/p`` mount)."""
    if home:
        if home.startswith("gs://"):
            home = "/gcs/" + home[len("gs://"):]
        os.environ[paths.HOME_ENV] = home


def _meta_metrics(model_dir: Path) -> dict[str, float]:
    """A model folder's metrics, accuracies as fractions (some stages write percentages)."""
    from butterflyer.models.meta import ModelMeta
    from butterflyer.registry.lineage import normalise_metric

    return {k: normalise_metric(k, float(v)) for k, v in ModelMeta.load(model_dir).metrics.items()}


def _folder_digest(folder: Path) -> str:
    """Content hash of a model folder's weight files and meta.json."""
    from butterflyer.registry.lineage import model_fingerprint

    return model_fingerprint(folder)


# -- data -----------------------------------------------------------------------------------------

def collect(source: str) -> dict[str, Any]:
    """Copy ``source`` into ``raw/`` (the data stage itself does no work for a known source)."""
    from butterflyer.data.collect import collect as collect_source

    if not source.strip():
        raise ConfigError("the pipeline's 'source' parameter is empty; pass a folder, archive, URL or bucket")
    result = collect_source(source)
    return _describe_raw(result)


def _describe_raw(result: Any) -> dict[str, Any]:
    """Normalise what ``data.collect`` returns (a path, a dict or an object) to ``{"uri", ...}``."""
    if isinstance(result, str | Path):
        return {"uri": str(result)}
    if isinstance(result, dict):
        data = dict(result)
    else:
        data = {k: v for k, v in vars(result).items() if not k.startswith("_")}
    uri = data.get("uri") or data.get("raw_dir") or data.get("path") or data.get("folder") or data.get("root")
    if uri is None:
        raise DataError(f"data.collect returned no location ({sorted(data)})")
    out: dict[str, Any] = {"uri": str(uri)}
    for key in ("sha256", "manifest_sha256", "files", "count", "bytes", "source"):
        if key in data and isinstance(data[key], str | int | float):
            out[key] = data[key]
    return out


def prepare(raw_uri: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate, de-duplicate and split ``raw_uri`` into ``interim/``."""
    from butterflyer.data.prepare import PrepareConfig
    from butterflyer.data.prepare import prepare as prepare_raw

    settings = dict(config or {})
    if "ratios" in settings:
        settings["ratios"] = tuple(settings["ratios"])
    result = prepare_raw(raw=Path(raw_uri), config=PrepareConfig(**settings))
    interim = paths.interim_dir()
    out: dict[str, Any] = {"uri": str(interim)}
    if isinstance(result, dict):
        counts = result.get("counts") or {k: result[k] for k in ("train", "val", "test") if k in result}
        if counts:
            out["counts"] = counts
        for key in ("quarantined", "duplicates", "kept"):
            if isinstance(result.get(key), int):
                out[key] = result[key]
    report = next((p for p in (interim / "report.md", interim / "data_report.md") if p.is_file()), None)
    if report is not None:
        out["report"] = str(report)
    out["interim_sha256"] = _interim_digest(interim)
    return out


def _interim_digest(folder: Path) -> str:
    """Content hash of the split CSVs and labels: it changes exactly when the records must."""
    digest = hashlib.sha256()
    for name in ("labels.json", "train.csv", "val.csv", "test.csv"):
        path = folder / name
        digest.update(name.encode())
        digest.update(sha256_file(path).encode() if path.is_file() else b"-")
    return digest.hexdigest()


def build_records(interim_uri: str, output: str = "", runner: str = "local") -> dict[str, Any]:
    """Sharded TFRecords of ``interim_uri`` (the data stage resumes and skips finished work)."""
    from butterflyer.data.manifest import content_digest
    from butterflyer.data.records import build_records as build

    target = output or str(paths.records_dir())
    manifest = build(interim=Path(interim_uri), output=target, runner=runner)
    counts = {split: info.get("count", 0) for split, info in manifest.get("splits", {}).items()}
    return {"uri": target, "manifest_sha256": content_digest(manifest), "counts": counts,
            "num_classes": manifest.get("num_classes", 0)}


# -- models ---------------------------------------------------------------------------------------

def train(records_uri: str, records_sha: str, model: str, epochs: int, profile: str, seed: int,
          overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``model`` on the records; skipped when records, settings and seed are unchanged."""
    settings: dict[str, Any] = {"model": model, "profile": profile, "seed": seed, **(overrides or {})}
    if epochs > 0:
        settings["epochs"] = epochs

    def run() -> dict[str, Any]:
        from butterflyer.train.config import TrainConfig
        from butterflyer.train.trainer import train as train_model

        key = step_key_short("train", records_sha, settings)
        config = TrainConfig(input=records_uri, output=str(paths.runs_dir() / f"pipeline-{model}-{key}"),
                             run_name=f"pipeline-{model}-{key}", **settings)
        result = train_model(config)
        return {"uri": str(result.model_dir), "metrics": dict(result.metrics), "run_id": result.run_id or ""}

    return cached_step("train", {"records_sha": records_sha, "settings": settings}, run)


def step_key_short(name: str, *parts: Any) -> str:
    from butterflyer.pipeline.stepcache import step_key

    return step_key(name, {"parts": list(parts)})[:12]


def evaluate(model_uri: str, records_uri: str, records_sha: str, split: str = "test") -> dict[str, Any]:
    """Top-1/top-5, calibration and plots of a model on ``split``; skipped when nothing changed."""
    model_dir = Path(model_uri)
    digest = _folder_digest(model_dir)

    def run() -> dict[str, Any]:
        out_dir = paths.runs_dir() / "evaluations" / f"{digest[:16]}-{records_sha[:12]}-{split}"
        metrics = evaluate_any(model_dir, records_uri, split=split, out_dir=out_dir)
        report = next((p for p in (out_dir / "report.md", out_dir / "evaluation.md") if p.is_file()), None)
        return {"uri": str(out_dir), "metrics": metrics, "report": str(report) if report else ""}

    return cached_step("evaluate", {"model": digest, "records_sha": records_sha, "split": split}, run)


def evaluate_any(model_dir: Path, records_uri: str, split: str = "test", out_dir: Path | None = None
                 ) -> dict[str, float]:
    """Evaluate a PyTorch or ONNX-only model folder; returns ``{f"{split}_top1", ...}`` fractions."""
    from butterflyer.models.meta import WEIGHTS_FILE

    if (Path(model_dir) / WEIGHTS_FILE).is_file():
        from butterflyer.train.evaluate import evaluate as evaluate_model

        raw = evaluate_model(model_dir, records_uri, split=split, out_dir=out_dir)
    else:
        raw = _evaluate_onnx(Path(model_dir), records_uri, split, out_dir)
    metrics: dict[str, float] = {}
    for key, value in (raw or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            name = key if key.startswith(f"{split}_") else f"{split}_{key}"
            metrics[name] = float(value)
    if f"{split}_top1" not in metrics:
        raise ModelError(f"evaluation of {model_dir} returned no top1 ({sorted(raw or {})})")
    return metrics


def _evaluate_onnx(model_dir: Path, records_uri: str, split: str, out_dir: Path | None) -> dict[str, float]:
    """Top-1/top-5 of an ONNX-only folder (e.g. the int8 model) with ONNX Runtime."""
    import numpy as np

    from butterflyer.compress.data import load_split
    from butterflyer.compress.export import LOGITS, onnx_predict, onnx_session
    from butterflyer.models.meta import ModelMeta

    meta = ModelMeta.load(model_dir)
    images = load_split(records_uri, split, meta.data_config, meta.labels)
    session = onnx_session(model_dir)
    logits = np.concatenate([onnx_predict(session, batch)[LOGITS] for batch in images.arrays(64)])
    order = np.argsort(-logits, axis=1)
    hits = order == images.labels[:, None]
    result = {"top1": float(hits[:, :1].any(axis=1).mean()), "top5": float(hits[:, :5].any(axis=1).mean()),
              "n": float(len(images.labels))}
    if out_dir is not None:
        lines = [f"# Evaluation of {model_dir.name} on {split} (ONNX Runtime)", "",
                 f"- examples: {len(images.labels)}", f"- top-1: **{result['top1']:.4f}**",
                 f"- top-5: {result['top5']:.4f}", ""]
        atomic_write_json(Path(out_dir) / "metrics.json", result)
        (Path(out_dir) / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return result


def compress(teacher_uri: str, records_uri: str, records_sha: str, enabled: bool,
             config: dict[str, Any] | None = None, target: float = 0.0) -> dict[str, Any]:
    """The model the app ships: pruned + distilled + int8 ONNX, or the teacher exported to ONNX.

    ``target`` (fraction of the teacher's MACs to keep; 0 = the profile's default) overrides ``config``.
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
        resolved = profile_config(str(overrides.pop("profile", "fast")), **overrides).model_dump()

    def run() -> dict[str, Any]:
        key = step_key_short("c", settings, enabled, resolved)
        out_dir = paths.models_dir() / f"pipeline-{digest[:12]}-{key}"
        if not enabled:
            from butterflyer.compress.export import export_onnx

            shipped = Path(export_onnx(teacher, out_dir / "onnx"))
            return {"uri": str(shipped), "report": "", "metrics": _meta_metrics(shipped)}
        from butterflyer.compress.config import profile_config
        from butterflyer.compress.stage import compress as compress_model

        overrides = dict(settings)
        profile = str(overrides.pop("profile", "fast"))
        result = compress_model(teacher, records_uri, out_dir, profile_config(profile, **overrides))
        shipped = Path(_first_attr(result, "shipped_dir", "ship_dir", "model_dir", "shipped", "final_dir"))
        report = _first_attr(result, "report_path", "report_md", "report", default="")
        return {"uri": str(shipped), "report": str(report or ""), "metrics": _meta_metrics(shipped),
                "paths": [str(out_dir)]}

    return cached_step("compress", {"teacher": digest, "records_sha": records_sha, "enabled": enabled,
                                    "settings": settings, "resolved": resolved}, run)


def _first_attr(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value:
            return value
    if default is not None:
        return default
    raise ModelError(f"{type(obj).__name__} has none of {names}; the compress stage's result changed")


def fit_serving(model_uri: str, records_uri: str, records_sha: str, per_class: int | None = None
                ) -> dict[str, Any]:
    """Fit the app's not-a-butterfly gate (train photos) and roll-up thresholds (val) into meta.json.

    The result travels with the model (``meta.extra["serving"]``); a folder already fitted on these
    records is left alone.
    """
    from butterflyer.models.meta import ModelMeta

    folder = Path(model_uri)
    fitted = (ModelMeta.load(folder).extra.get("serving") or {}).get("fitted") or {}
    if fitted.get("records_sha") != records_sha:  # the compress step's gate check may have fitted it already
        from butterflyer.serve.fit import fit_model_folder

        fitted = fit_model_folder(folder, records_uri, per_class=per_class, threads=0)["fitted"]
    return {"uri": str(folder), "serving_sha": records_sha,
            **{k: v for k, v in fitted.items() if isinstance(v, int | float) and k != "seconds"}}


# -- registry and deployment ----------------------------------------------------------------------

def register(model_uri: str, metrics: dict[str, float], *, report: str = "", name: str = "butterflyer",
             challenge: bool = True, margin: float = 0.0, min_top1: float = 0.0,
             latency_budget_ms: float = 250.0, records_uri: str = "", extra_tags: dict[str, str] | None = None
             ) -> dict[str, Any]:
    """Register a model with its lineage; with ``challenge`` make it the challenger and decide promotion."""
    from butterflyer.registry import CHALLENGER, CHAMPION, store
    from butterflyer.registry.latency import measure_latency
    from butterflyer.registry.promotion import LATENCY_KEY, PromotionConfig, decide_and_promote

    folder = Path(model_uri)
    tags = {f"metric.{k}": repr(float(v)) for k, v in metrics.items()}
    known = store.find_by_fingerprint(_folder_digest(folder), name)
    measured = LATENCY_KEY in metrics or LATENCY_KEY in _meta_metrics(folder) \
        or (known is not None and LATENCY_KEY in known.metrics)
    if challenge and not measured:
        for key, value in measure_latency(folder).items():
            tags[f"metric.{key}"] = repr(round(value, 3))
    tags.update(extra_tags or {})
    info, created = store.register_model_dir(folder, name=name, report=report or None, extra_tags=tags,
                                             alias=CHALLENGER if challenge else None)
    out: dict[str, Any] = {"uri": str(folder), "version": info.version, "created": created,
                           "model_uri": info.uri, "promoted": False,
                           "reason": "registered (not a challenger)"}
    if challenge:
        def evaluate_champion(champion: Any) -> float | None:
            if not records_uri:
                return None
            from butterflyer.registry.resolve import resolve_model_uri

            try:
                return evaluate_any(resolve_model_uri(champion.uri), records_uri).get("test_top1")
            except Exception:  # the champion cannot be evaluated here: it then stays
                return None

        config = PromotionConfig(margin=margin, min_top1=min_top1, latency_budget_ms=latency_budget_ms)
        decision = decide_and_promote(info.version, config, name=name, evaluate_champion=evaluate_champion)
        champion = store.alias_version(CHAMPION, name)
        out.update(promoted=decision.promote, reason=decision.reason,
                   champion=champion.version if champion else 0)
    return out


def deploy(target: str, name: str = "butterflyer", vertex: dict[str, Any] | None = None) -> dict[str, Any]:
    """Make the champion live: ``local`` records it for ``butterflyer serve`` (which hot-swaps on the
    alias), ``vertex`` uploads it to Vertex AI and deploys an endpoint, ``none`` does nothing."""
    from butterflyer.registry import CHAMPION, store

    champion = store.alias_version(CHAMPION, name)
    if champion is None:
        raise ModelError(f"model {name!r} has no champion to deploy")
    record: dict[str, Any] = {"target": target, "version": champion.version,
                              "model_uri": f"models:/{name}@{CHAMPION}",
                              "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
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
    return {"uri": str(path), **record}
