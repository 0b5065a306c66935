"""``build-records``: interim splits to sharded TFRecords plus a manifest written last.

Usage::

    from butterflyer.data.records import build_records, RecordsConfig
    manifest = build_records()                          # interim/ -> records/ on all cores
    manifest = build_records(output="gs://bucket/bf", runner="beam")

The plan is deterministic: each split's rows are put in a seeded random order
and cut into ``n`` contiguous shards of equal count, with ``n`` chosen from the
estimated output size and ``shard_mb``. Runners only differ in who calls
:func:`butterflyer.data.encode.make_example`, so they write identical shards.

Resumable and idempotent: each finished shard leaves a small progress file
naming the plan's fingerprint; a rerun skips those shards, and a rerun after a
complete build (same fingerprint in ``manifest.json``) does no work at all.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import fsspec

from butterflyer import paths
from butterflyer.data.encode import RecordsConfig, estimate_record_bytes, make_example
from butterflyer.data.interim import read_interim
from butterflyer.data.manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    join,
    load_raw_manifest,
    remove_manifest,
    write_manifest,
)
from butterflyer.data.shards import done_entries, mark_done, remove_stale, write_shard
from butterflyer.errors import ConfigError

__all__ = ["RecordsConfig", "ShardPlan", "build_records", "plan_shards", "shard_name"]

RUNNERS = ("local", "beam")
Progress = Callable[[int], None]


@dataclass
class ShardPlan:
    """One output shard: its name and the interim rows it holds, in order."""

    split: str
    index: int
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return shard_name(self.split, self.index, self.total)


def shard_name(split: str, index: int, total: int) -> str:
    """``{split}-{i:05d}-of-{n:05d}.tfrecord``."""
    return f"{split}-{index:05d}-of-{total:05d}.tfrecord"


def plan_shards(splits: dict[str, list[dict[str, Any]]], config: RecordsConfig) -> list[ShardPlan]:
    """Cut every split into shards of about ``config.shard_mb`` (deterministic)."""
    if config.shard_mb <= 0 or config.shard_multiple < 1:
        raise ConfigError("shard_mb must be positive and shard_multiple at least 1.")
    plans: list[ShardPlan] = []
    target = config.shard_mb * (1 << 20)
    for split, rows in splits.items():
        if not rows:
            continue
        ordered = sorted(rows, key=lambda r: (r["key"], r["sha256"]))
        random.Random(f"{config.seed}:{split}").shuffle(ordered)
        estimate = sum(estimate_record_bytes(r, config) for r in ordered)
        count = max(1, math.ceil(estimate / target))
        count = min(len(ordered), math.ceil(count / config.shard_multiple) * config.shard_multiple)
        for i in range(count):
            lo, hi = len(ordered) * i // count, len(ordered) * (i + 1) // count
            plans.append(ShardPlan(split, i, count, ordered[lo:hi]))
    return plans


def plan_fingerprint(labels: list[str], plans: list[ShardPlan], config: RecordsConfig) -> str:
    """Hash of everything that decides the output bytes."""
    digest = hashlib.sha256()
    digest.update(json.dumps([FORMAT_VERSION, labels, config.output_settings()], sort_keys=True).encode())
    for plan in plans:
        digest.update(plan.name.encode())
        for row in plan.rows:
            digest.update(f"{row['key']}|{row['sha256']}|{row['label_index']}|{row['label']}\n".encode())
    return digest.hexdigest()


# -- the local runner ----------------------------------------------------------------------------


def _examples(
    rows: list[dict[str, Any]], config: RecordsConfig, pool: Any, progress: Progress | None
) -> Iterator[bytes]:
    encode = partial(make_example, config=config)
    results = pool.imap(encode, rows, chunksize=16) if pool is not None else map(encode, rows)
    for payload in results:
        if progress:
            progress(1)
        yield payload


def run_local(
    output: str,
    pending: list[ShardPlan],
    config: RecordsConfig,
    fingerprint: str,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Encode on a process pool (all cores by default); the parent writes shards in order."""
    workers = config.workers or os.cpu_count() or 1
    total = sum(len(p.rows) for p in pending)
    pool = None
    if workers > 1 and total >= 64:
        import multiprocessing

        pool = multiprocessing.get_context().Pool(workers)
    entries = []
    try:
        for plan in pending:
            entry = write_shard(output, plan.name, _examples(plan.rows, config, pool, progress))
            mark_done(output, entry, fingerprint)
            entries.append(entry)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return entries


# -- the stage -----------------------------------------------------------------------------------


def build_records(
    interim: Path | None = None,
    output: str | None = None,
    runner: str = "local",
    config: RecordsConfig = RecordsConfig(),
    progress: Progress | None = None,
    beam_options: list[str] | None = None,
) -> dict[str, Any]:
    """Write sharded TFRecords for every split in ``interim`` and return the manifest.

    ``output`` is a local folder or an fsspec URI (default ``paths.records_dir()``).
    ``progress(n)`` is called as examples are encoded (the CLI's progress bar).
    ``beam_options`` are Beam pipeline flags (e.g. ``--runner=DataflowRunner ...``).
    """
    if runner not in RUNNERS:
        raise ConfigError(f"unknown runner '{runner}'; use one of {', '.join(RUNNERS)}.")
    interim = Path(interim) if interim is not None else paths.interim_dir()
    output = str(output) if output is not None else str(paths.records_dir())
    labels, splits = read_interim(interim)
    plans = plan_shards(splits, config)
    fingerprint = plan_fingerprint(labels, plans, config)

    existing = load_raw_manifest(output)
    if existing and existing.get("complete") and existing.get("fingerprint") == fingerprint:
        return existing
    if existing is not None:
        remove_manifest(output)
    fs, root = fsspec.core.url_to_fs(output)
    fs.makedirs(root, exist_ok=True)

    started = time.perf_counter()
    done = done_entries(output, fingerprint)
    pending = [p for p in plans if p.name not in done]
    if progress:
        progress(sum(len(p.rows) for p in plans if p.name in done))
    if runner == "beam":
        from butterflyer.data.beam_runner import run_beam

        new = run_beam(output, pending, config, fingerprint, beam_options)
    else:
        new = run_local(output, pending, config, fingerprint, progress)
    entries = {**done, **{e["name"]: e for e in new}}

    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "complete": True,
        "fingerprint": fingerprint,
        "labels": labels,
        "num_classes": len(labels),
        "config": config.output_settings(),
        "features": {
            "image/encoded": "bytes: JPEG",
            "image/format": "bytes: 'jpeg'",
            "image/class/label": "int64: index into labels",
            "image/class/text": "bytes: label name (UTF-8)",
            "image/height": "int64",
            "image/width": "int64",
            "image/sha256": "bytes: hex sha256 of the source file",
            "image/filename": "bytes: path inside the collected source",
        },
        "splits": {},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runner": runner,
        "timings": {
            "seconds": round(time.perf_counter() - started, 3),
            "shards_written": len(new),
            "shards_resumed": len(done),
        },
        "source": {"interim": str(interim)},
    }
    for plan in plans:
        split = manifest["splits"].setdefault(plan.split, {"count": 0, "shards": []})
        entry = entries[plan.name]
        split["count"] += entry["records"]
        split["shards"].append(entry)
    write_manifest(output, manifest)
    remove_stale(output, {p.name for p in plans})
    return manifest


def manifest_path(output: str | None = None) -> str:
    """Where the manifest of ``output`` (default records folder) lives."""
    return join(str(output) if output is not None else str(paths.records_dir()), MANIFEST_NAME)
