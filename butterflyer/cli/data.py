"""CLI for the data stage: ``butterflyer data collect|prepare|build-records|audit``.

Thin wrappers: parse flags, show a Rich progress bar, call the library function,
print a short summary. Errors from the library reach the user via ``cli.main``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from butterflyer.cli.console import console as make_console

data_app = typer.Typer(
    help="Collect photos, prepare clean splits, write sharded TFRecords.", no_args_is_help=True
)
console = make_console()


@contextmanager
def _bar(description: str, total: int | None = None) -> Iterator[tuple[Progress, Any]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        yield bar, bar.add_task(description, total=total)


@data_app.command("collect")
def collect_cmd(
    source: str = typer.Argument(
        ..., help="Folder, .zip/.tar/.tar.gz, http(s) URL, or fsspec URI (gs://, s3://)."
    ),
    force: bool = typer.Option(False, "--force", help="Collect again even if the source is unchanged."),
    max_gb: float = typer.Option(256.0, "--max-gb", help="Refuse archives that expand beyond this many GB."),
) -> None:
    """Copy or safely extract SOURCE into raw/ (read-only) with a sha256 manifest."""
    from butterflyer.data.archive import ArchiveLimits
    from butterflyer.data.collect import collect

    started = time.perf_counter()
    with _bar("collect") as (bar, task):
        info = collect(
            source,
            ArchiveLimits(max_total_bytes=int(max_gb * (1 << 30))),
            progress=lambda n: bar.advance(task, n),
            force=force,
        )
    verb = "collected" if info["collected"] else "unchanged, reused"
    console.print(
        f"{verb}: {info['count']} files, {info['bytes'] / 1e6:.1f} MB -> {info['root']} "
        f"({time.perf_counter() - started:.1f}s)"
    )
    if info.get("skipped"):
        console.print(f"[yellow]skipped {len(info['skipped'])} symlinks[/] (listed in the raw manifest)")


@data_app.command("prepare")
def prepare_cmd(
    raw: Path = typer.Option(None, help="Collected folder (default: the latest 'collect')."),
    split: str = typer.Option(
        "source", help="'source' keeps the source's train/valid/test; 'random' re-splits."
    ),
    ratios: str = typer.Option("0.8,0.1,0.1", help="train,val,test ratios for a random split."),
    seed: int = typer.Option(0, help="Seed of the random split."),
    near_threshold: int = typer.Option(4, help="Perceptual-hash bits for near-duplicates (-1: off)."),
    min_side: int = typer.Option(32, help="Quarantine images with a side below this."),
    max_megapixels: float = typer.Option(40.0, help="Quarantine images above this (decompression bombs)."),
    workers: int = typer.Option(None, help="Processes (default: all cores)."),
    exclude_audit: Path = typer.Option(
        None, "--exclude-audit", help="audit_photos.csv from 'data audit': its photos are left out of train."
    ),
) -> None:
    """Validate every image, quarantine bad ones, group duplicates, write leak-free splits."""
    from butterflyer.data.prepare import PrepareConfig, prepare
    from butterflyer.errors import ConfigError

    if split not in ("source", "random"):
        raise ConfigError("--split must be 'source' or 'random'.")
    try:
        parts = tuple(float(x) for x in ratios.split(","))
    except ValueError as exc:
        raise ConfigError(f"--ratios must be three numbers like 0.8,0.1,0.1, got '{ratios}'.") from exc
    if len(parts) != 3:
        raise ConfigError(f"--ratios must be three numbers like 0.8,0.1,0.1, got '{ratios}'.")
    config = PrepareConfig(
        keep_source_split=split == "source",
        ratios=parts,
        seed=seed,  # type: ignore[arg-type]
        near_threshold=near_threshold,
        min_side=min_side,
        max_pixels=int(max_megapixels * 1e6),
        workers=workers,
        exclude_audit=str(exclude_audit) if exclude_audit else None,
    )
    with _bar("prepare") as (bar, task):
        summary = prepare(
            config=config,
            raw=raw,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda n: bar.update(task, total=n),
        )
    if summary["reused"]:
        console.print("unchanged since the last run: nothing to do")
    console.print(f"layout: {summary['layout']} ({summary.get('layout_reason', '')})", highlight=False)
    for warning in summary.get("warnings", []):
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    if summary.get("conflicting_labels"):
        console.print(f"[bold yellow]warning:[/] {len(summary['conflicting_labels'])} files are the same "
                      "photo under different labels (quarantined; pairs listed in report.md)")
    c = summary["counts"]
    console.print(
        f"kept {summary['kept']} (train {c['train']}, val {c['val']}, test {c['test']}), "
        f"quarantined {summary['quarantined']} {summary['quarantine_reasons'] or ''}, "
        f"exact duplicates dropped {summary['exact_duplicates_dropped']}, "
        f"near-duplicate groups {summary['near_duplicate_groups']} "
        f"({summary['cross_split_groups']} spanned splits, {len(summary['moved'])} images moved)"
    )
    if summary.get("audit_excluded"):
        ex = summary["audit_excluded"]
        console.print(f"label audit: {ex['dropped_from_train']} flagged photos left out of train "
                      f"({ex['kept_in_val_test']} in val/test kept)")
    from butterflyer import paths

    console.print(f"report: {paths.interim_dir() / 'report.md'}")


@data_app.command("build-records")
def build_records_cmd(
    interim: Path = typer.Option(None, help="Prepared splits (default: interim/ in the home)."),
    output: str = typer.Option(
        None, "--output", help="Folder or bucket URI (default: records/ in the home)."
    ),
    runner: str = typer.Option("local", help="'local' (all cores) or 'beam' (Apache Beam)."),
    shorter_side: int = typer.Option(256, help="Resize so the shorter side is at most this (never upscale)."),
    quality: int = typer.Option(90, help="JPEG quality of re-encoded images."),
    shard_mb: float = typer.Option(128.0, help="Target shard size in MB."),
    shard_multiple: int = typer.Option(1, help="Round shard counts up to a multiple (e.g. GPUs x workers)."),
    seed: int = typer.Option(0, help="Seed of the example order before sharding."),
    workers: int = typer.Option(None, help="Processes for the local runner (default: all cores)."),
    beam_option: list[str] = typer.Option(
        None,
        "--beam-option",
        help="Beam pipeline flag, repeatable (e.g. --beam-option=--runner=DataflowRunner).",
    ),
) -> None:
    """Write sharded TFRecords (tf.train.Example) and a manifest, resuming an interrupted run."""
    from butterflyer.data.interim import read_interim
    from butterflyer.data.records import RecordsConfig, build_records

    config = RecordsConfig(
        shorter_side=shorter_side,
        jpeg_quality=quality,
        shard_mb=shard_mb,
        shard_multiple=shard_multiple,
        seed=seed,
        workers=workers,
    )
    from butterflyer import paths

    interim = interim or paths.interim_dir()
    _, splits = read_interim(interim)
    total = sum(len(rows) for rows in splits.values())
    started = time.perf_counter()
    with _bar(f"build-records ({runner})", total) as (bar, task):
        manifest = build_records(
            interim=interim,
            output=output,
            runner=runner,
            config=config,
            progress=lambda n: bar.advance(task, n),
            beam_options=beam_option or None,
        )
    shards = sum(len(s["shards"]) for s in manifest["splits"].values())
    counts = ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items())
    console.print(
        f"{counts}; {shards} shards -> {output or paths.records_dir()} ({time.perf_counter() - started:.1f}s)"
    )


@data_app.command("audit")
def audit_cmd(
    records: str = typer.Option(None, "--records", help="Records folder or URI (default: records/ in home)."),
    output: Path = typer.Option(None, help="Report folder (default: interim/, beside the data report)."),
    model: str = typer.Option("efficientnet_lite0", help="Backbone whose pooled features the audit reads."),
    weights: str = typer.Option(None, help="Backbone weights (default: the pretrained ImageNet weights)."),
    folds: int = typer.Option(5, help="Cross-validation folds for the out-of-fold predictions."),
    seed: int = typer.Option(0, help="Seed of the folds, the heads and the clustering."),
    threads: int = typer.Option(None, help="CPU threads for feature extraction (default: auto)."),
    show: list[str] = typer.Option(None, "--show", help="Also show this label's two clusters (repeatable)."),
) -> None:
    """List likely mislabelled photos and labels that mix species (never changes the data)."""
    from butterflyer import paths
    from butterflyer.data.audit import AuditConfig, audit

    records = records or str(paths.records_dir())
    config = AuditConfig(model=model, weights=weights, folds=folds, seed=seed, threads=threads,
                         show=tuple(show or ()))
    started = time.perf_counter()
    with _bar("audit") as (bar, task):

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        result = audit(records, output=output, config=config, progress=progress)
    s = result.summary
    console.print(
        f"flagged {s['flagged']} of {s['photos']} photos (out-of-fold top-1 {s['oof_top1']:.1%}); "
        f"most suspect labels: {', '.join(r['label'] for r in result.labels[:5])} "
        f"({time.perf_counter() - started:.1f}s)"
    )
    console.print(f"report: {(output or paths.interim_dir()) / 'audit.md'}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(data_app, name="data")
