"""``prepare``: a collected source to validated, de-duplicated, leak-free splits.

Usage::

    from butterflyer.data.prepare import prepare, PrepareConfig
    summary = prepare()                      # latest collected source -> interim/

Steps: find labelled images (:mod:`scan`), fully decode each once on all cores
(:mod:`validate`; failures are quarantined with a reason), drop extra exact
copies and group near-duplicates (:mod:`dedup`), assign splits so that no group
spans two (:mod:`split`), then write ``interim/{train,val,test}.csv``,
``labels.json``, ``quarantine.csv``, ``duplicates.csv``, ``report.md`` and
``class_distribution.png`` (:mod:`report`). A rerun on the same source with the
same settings does no work.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from butterflyer import paths
from butterflyer.data.audit_report import read_flagged_keys
from butterflyer.data.collect import latest_raw
from butterflyer.data.dedup import exact_groups, near_groups
from butterflyer.data.images import DecodeLimits
from butterflyer.data.interim import LABELS_FILE, SPLITS, write_split_csv
from butterflyer.data.scan import Item, scan_source
from butterflyer.data.split import SPLIT_ORDER, resolve_source_split, stratified_group_split
from butterflyer.data.validate import Checked, check_image
from butterflyer.errors import ConfigError
from butterflyer.fileio import atomic_write_json, read_json

SUMMARY_FILE = "prepare.json"
PREPARE_VERSION = 1
Progress = Callable[[int], None]


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of ``prepare`` (saved in ``interim/prepare.json``).

    ``near_threshold``: max Hamming distance between 64-bit perceptual hashes of
    two photos of the same label for them to count as near-duplicates (-1 turns
    the search off). ``workers`` (None = all cores) does not change the output.
    """

    keep_source_split: bool = True
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    near_threshold: int = 4
    min_side: int = 32
    max_pixels: int = DecodeLimits().max_pixels
    workers: int | None = None
    exclude_audit: str | None = None  # an audit_photos.csv whose photos are left out of train only

    def output_settings(self) -> dict[str, Any]:
        settings = asdict(self)
        settings.pop("workers")
        if settings["exclude_audit"] is None:  # absent, as before the flag existed: same fingerprint
            settings.pop("exclude_audit")
        settings["ratios"] = list(self.ratios)
        return settings


def _check_all(
    items: list[Item], limits: DecodeLimits, workers: int, progress: Progress | None
) -> list[Checked]:
    keys = [i.key for i in items]
    files = [str(i.path) for i in items]
    if workers <= 1 or len(items) < 32:
        out = []
        for key, path in zip(keys, files, strict=True):
            out.append(check_image(key, path, limits))
            if progress:
                progress(1)
        return out
    results = []
    with ProcessPoolExecutor(workers) as pool:
        chunk = max(1, min(64, len(items) // (workers * 8)))
        for checked in pool.map(check_image, keys, files, [limits] * len(items), chunksize=chunk):
            results.append(checked)
            if progress:
                progress(1)
    return results


def _fingerprint(raw_manifest: dict[str, Any], config: PrepareConfig, excluded: set[str]) -> str:
    digest = hashlib.sha256()
    if excluded:  # only then: earlier runs without an audit keep their fingerprint
        digest.update("\n".join(sorted(excluded)).encode())
    digest.update(
        json.dumps(
            [PREPARE_VERSION, config.output_settings(), raw_manifest.get("id")], sort_keys=True
        ).encode()
    )
    for entry in raw_manifest.get("files", []):
        digest.update(f"{entry['path']}|{entry['sha256']}\n".encode())
    return digest.hexdigest()


def prepare(
    raw: Path | None = None,
    interim: Path | None = None,
    config: PrepareConfig = PrepareConfig(),
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Validate, de-duplicate and split a collected source; returns the summary (also in prepare.json).

    ``raw`` defaults to the latest collected source, ``interim`` to ``paths.interim_dir()``.
    ``on_total(n)`` is told the number of images before checking starts (progress bars).
    """
    if config.near_threshold > 32:
        raise ConfigError("near_threshold above 32 bits would group unrelated photos; use 0-12.")
    if raw is None:
        raw, raw_manifest = latest_raw()
    else:
        raw = Path(raw)
        collected = raw.parent / f"{raw.name}.json"
        if collected.is_file():  # a folder written by collect: reuse its manifest
            raw_manifest = read_json(collected)
        else:  # any other folder: sizes and mtimes stand in for hashes
            raw_manifest = {
                "id": str(raw.resolve()),
                "files": [
                    {
                        "path": p.relative_to(raw).as_posix(),
                        "sha256": f"{p.stat().st_size}:{p.stat().st_mtime_ns}",
                    }
                    for p in sorted(raw.rglob("*"))
                    if p.is_file()
                ],
            }
    interim = Path(interim) if interim is not None else paths.interim_dir()
    excluded = read_flagged_keys(Path(config.exclude_audit)) if config.exclude_audit else set()
    fingerprint = _fingerprint(raw_manifest, config, excluded)
    summary_path = interim / SUMMARY_FILE
    if summary_path.is_file():
        previous = read_json(summary_path)
        splits_there = all((interim / f"{s}.csv").is_file() for s in SPLITS)
        if previous.get("fingerprint") == fingerprint and splits_there:
            return dict(previous, reused=True)

    started = time.perf_counter()
    scan = scan_source(raw)
    if on_total:
        on_total(len(scan.items))
    limits = DecodeLimits(min_side=config.min_side, max_pixels=config.max_pixels)
    checked = _check_all(scan.items, limits, config.workers or os.cpu_count() or 1, progress)
    t_checked = time.perf_counter()

    quarantine = [{"key": k, "reason": r, "detail": d} for k, r, d in scan.problems]
    good: list[tuple[Item, Checked]] = []
    for item, result in zip(scan.items, checked, strict=True):
        if result.ok:
            good.append((item, result))
        else:
            quarantine.append({"key": item.key, "reason": result.reason, "detail": result.detail})

    duplicates: list[dict[str, Any]] = []
    drop: set[int] = set()
    for group in exact_groups([c.sha256 for _, c in good]):
        labels = {good[i][0].label for i in group}
        if len(labels) > 1:
            for i in group:
                drop.add(i)
                quarantine.append(
                    {
                        "key": good[i][0].key,
                        "reason": "conflicting_labels",
                        "detail": f"the same file is labelled {sorted(labels)}",
                    }
                )
            continue
        ranked = sorted(
            group, key=lambda i: (SPLIT_ORDER.index(good[i][0].source_split or "train"), good[i][0].key)
        )
        for i in ranked[1:]:
            drop.add(i)
            duplicates.append(
                {
                    "kind": "exact",
                    "key": good[i][0].key,
                    "of": good[ranked[0]][0].key,
                    "distance": 0,
                    "action": "dropped (identical bytes)",
                }
            )
    kept = [pair for i, pair in enumerate(good) if i not in drop]

    labels_of = [item.label for item, _ in kept]
    hashes = np.array([c.phash for _, c in kept], dtype=np.uint64)
    groups, pairs = (
        near_groups(hashes, config.near_threshold, labels_of) if config.near_threshold >= 0 else ([], [])
    )
    source_splits = [item.source_split for item, _ in kept]
    keep_source = config.keep_source_split and all(source_splits)
    if keep_source:
        splits, moved = resolve_source_split(source_splits, groups)
    else:
        splits, moved = stratified_group_split(labels_of, groups, config.ratios, config.seed), []
    group_of = {i: f"g{n:05d}" for n, g in enumerate(groups) for i in g}
    for i, j, dist in pairs:
        duplicates.append(
            {
                "kind": "near",
                "key": kept[j][0].key,
                "of": kept[i][0].key,
                "distance": dist,
                "action": f"grouped ({group_of[i]})",
            }
        )
    moved_rows = [
        {"key": kept[i][0].key, "from": source_splits[i], "to": splits[i], "group": group_of[i]}
        for i in moved
    ]

    label_names = sorted({item.label for item, _ in kept})
    index = {name: k for k, name in enumerate(label_names)}
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    audit_dropped = audit_kept = 0
    for k, ((item, result), split) in enumerate(zip(kept, splits, strict=True)):
        if item.key in excluded:  # flagged by the label audit: out of train, but val/test stay whole
            if split == "train":
                audit_dropped += 1
                continue
            audit_kept += 1
        rows[split].append(
            {
                "key": item.key,
                "path": str(item.path),
                "label": item.label,
                "label_index": index[item.label],
                "split": split,
                "sha256": result.sha256,
                "bytes": result.bytes,
                "width": result.width,
                "height": result.height,
                "group": group_of.get(k, ""),
                "source_split": item.source_split,
            }
        )
    interim.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        write_split_csv(interim / f"{split}.csv", sorted(rows[split], key=lambda r: r["key"]))
    atomic_write_json(interim / LABELS_FILE, label_names)

    modes: dict[str, int] = {}
    for _, result in kept:
        modes[result.mode] = modes.get(result.mode, 0) + 1
    summary: dict[str, Any] = {
        "fingerprint": fingerprint,
        "source": raw_manifest.get("source", str(raw)),
        "raw": str(raw),
        "layout": scan.layout,
        "config": config.output_settings(),
        "split_policy": "source split kept; spanning groups moved to their earliest split"
        if keep_source
        else f"seeded stratified group split {list(config.ratios)} (seed {config.seed})",
        "found": len(scan.items) + len(scan.problems),
        "kept": len(kept),
        "quarantined": len(quarantine),
        "quarantine_reasons": _count(q["reason"] for q in quarantine),
        "exact_duplicates_dropped": sum(1 for d in duplicates if d["kind"] == "exact"),
        "near_duplicate_groups": len(groups),
        "near_duplicate_images": sum(len(g) for g in groups),
        "cross_split_groups": len({group_of[i] for i in moved}),
        "moved": moved_rows,
        "counts": {s: len(rows[s]) for s in SPLITS},
        "audit_excluded": {"file": config.exclude_audit, "dropped_from_train": audit_dropped,
                           "kept_in_val_test": audit_kept} if config.exclude_audit else None,
        "per_class": {s: _count(r["label"] for r in rows[s]) for s in SPLITS},
        "num_classes": len(label_names),
        "source_modes": modes,
        "seconds": {"check": round(t_checked - started, 2), "total": round(time.perf_counter() - started, 2)},
    }
    from butterflyer.data.report import write_report

    write_report(interim, summary, quarantine, duplicates, label_names)
    atomic_write_json(summary_path, summary)
    return dict(summary, reused=False)


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
