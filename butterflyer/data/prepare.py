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
same settings does no work. A source with no usable photo or fewer than two labels
is refused (:mod:`checks`); few photos per label, or labels missing from val/test,
are warnings in the report and the summary.
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
from butterflyer.data.checks import label_warnings, refuse_no_photos, refuse_too_few_labels
from butterflyer.data.collect import latest_raw
from butterflyer.data.dedup import exact_groups, near_groups
from butterflyer.data.images import DecodeLimits
from butterflyer.data.interim import LABELS_FILE, SPLITS, write_split_csv
from butterflyer.data.scan import Item, Scan, scan_source
from butterflyer.data.split import SPLIT_ORDER, resolve_source_split, stratified_group_split
from butterflyer.data.validate import Checked, check_image
from butterflyer.errors import ConfigError, DataError
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


def _resolve_raw(raw: Path | None) -> tuple[Path, dict[str, Any]]:
    """The collected folder and its manifest (sizes and mtimes stand in for hashes elsewhere)."""
    if raw is None:
        return latest_raw()
    raw = Path(raw)
    collected = raw.parent / f"{raw.name}.json"
    if collected.is_file():  # a folder written by collect: reuse its manifest
        return raw, read_json(collected)
    files = [
        {"path": p.relative_to(raw).as_posix(), "sha256": f"{p.stat().st_size}:{p.stat().st_mtime_ns}"}
        for p in sorted(raw.rglob("*"))
        if p.is_file()
    ]
    return raw, {"id": str(raw.resolve()), "files": files}


def _previous_run(interim: Path, fingerprint: str) -> dict[str, Any] | None:
    """The last summary when it was made from the same source and settings, and its splits exist."""
    summary_path = interim / SUMMARY_FILE
    if not summary_path.is_file():
        return None
    previous = read_json(summary_path)
    splits_there = all((interim / f"{s}.csv").is_file() for s in SPLITS)
    return previous if previous.get("fingerprint") == fingerprint and splits_there else None


def _validate(
    items: list[Item], problems: list[tuple[str, str, str]], config: PrepareConfig, progress: Progress | None
) -> tuple[list[tuple[Item, Checked]], list[dict[str, Any]]]:
    """Decode every item; the good ones, and every file left out with its reason."""
    limits = DecodeLimits(min_side=config.min_side, max_pixels=config.max_pixels)
    checked = _check_all(items, limits, config.workers or os.cpu_count() or 1, progress)
    quarantine = [{"key": k, "reason": r, "detail": d} for k, r, d in problems]
    good: list[tuple[Item, Checked]] = []
    for item, result in zip(items, checked, strict=True):
        if result.ok:
            good.append((item, result))
        else:
            quarantine.append({"key": item.key, "reason": result.reason, "detail": result.detail})
    return good, quarantine


def _drop_exact_copies(
    good: list[tuple[Item, Checked]], quarantine: list[dict[str, Any]]
) -> tuple[list[tuple[Item, Checked]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Keep one copy of identical files; quarantine files whose copies carry different labels.

    Returns the kept pairs, the dropped copies (``duplicates.csv`` rows) and the label
    conflicts (one row per file: its label and the other files with the same bytes).
    """
    duplicates: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    drop: set[int] = set()
    for group in exact_groups([c.sha256 for _, c in good]):
        labels = {good[i][0].label for i in group}
        if len(labels) > 1:
            for i in group:
                drop.add(i)
                quarantine.append({"key": good[i][0].key, "reason": "conflicting_labels",
                                   "detail": f"the same file is labelled {sorted(labels)}"})
                others = [good[j][0] for j in group if j != i]
                conflicts.append({"key": good[i][0].key, "label": good[i][0].label,
                                  "same_as": "; ".join(f"{o.key} ({o.label})" for o in others)})
            continue
        ranked = sorted(
            group, key=lambda i: (SPLIT_ORDER.index(good[i][0].source_split or "train"), good[i][0].key)
        )
        for i in ranked[1:]:
            drop.add(i)
            duplicates.append({"kind": "exact", "key": good[i][0].key, "of": good[ranked[0]][0].key,
                               "distance": 0, "action": "dropped (identical bytes)"})
    kept = [pair for i, pair in enumerate(good) if i not in drop]
    return kept, duplicates, sorted(conflicts, key=lambda c: c["key"])


@dataclass
class SplitPlan:
    """Where each kept photo goes, and the near-duplicate groups that decided it."""

    splits: list[str]
    groups: list[list[int]]
    group_of: dict[int, str]
    moved: list[int]
    keep_source: bool


def _assign_splits(
    kept: list[tuple[Item, Checked]], config: PrepareConfig, duplicates: list[dict[str, Any]]
) -> SplitPlan:
    """Group near-duplicates (appended to ``duplicates``) and assign leak-free splits."""
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
    duplicates.extend({"kind": "near", "key": kept[j][0].key, "of": kept[i][0].key, "distance": dist,
                       "action": f"grouped ({group_of[i]})"} for i, j, dist in pairs)
    return SplitPlan(splits, groups, group_of, moved, keep_source)


def _split_rows(kept: list[tuple[Item, Checked]], plan: SplitPlan, excluded: set[str]
                ) -> tuple[list[str], dict[str, list[dict]], dict[str, int]]:
    """The label names (sorted; the index is the class id), the interim rows of each split and how many
    audit-flagged photos were left out of train (``excluded``) or kept in val/test."""
    label_names = sorted({item.label for item, _ in kept})
    index = {name: k for k, name in enumerate(label_names)}
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    audit = {"dropped_from_train": 0, "kept_in_val_test": 0}
    for k, ((item, result), split) in enumerate(zip(kept, plan.splits, strict=True)):
        if item.key in excluded:  # flagged by the label audit: out of train, but val/test stay whole
            if split == "train":
                audit["dropped_from_train"] += 1
                continue
            audit["kept_in_val_test"] += 1
        rows[split].append({
            "key": item.key, "path": str(item.path), "label": item.label, "label_index": index[item.label],
            "split": split, "sha256": result.sha256, "bytes": result.bytes, "width": result.width,
            "height": result.height, "group": plan.group_of.get(k, ""), "source_split": item.source_split,
        })
    for split in SPLITS:
        rows[split].sort(key=lambda r: r["key"])
    return label_names, rows, audit


def _summarise(raw: Path, raw_manifest: dict[str, Any], fingerprint: str, config: PrepareConfig,
               scan: Scan, outcome: dict[str, Any]) -> dict[str, Any]:
    """The ``prepare.json`` summary (also the data of ``report.md``)."""
    kept, quarantine, duplicates = outcome["kept"], outcome["quarantine"], outcome["duplicates"]
    plan: SplitPlan | None = outcome.get("plan")
    rows: dict[str, list[dict[str, Any]]] = outcome.get("rows") or {s: [] for s in SPLITS}
    modes = _count(result.mode for _, result in kept)
    if plan is None:
        policy = "not reached"
    elif plan.keep_source:
        policy = "source split kept; spanning groups moved to their earliest split"
    else:
        policy = f"seeded stratified group split {list(config.ratios)} (seed {config.seed})"
    moved = [] if plan is None else [
        {"key": kept[i][0].key, "from": kept[i][0].source_split, "to": plan.splits[i],
         "group": plan.group_of[i]} for i in plan.moved
    ]
    return {
        "fingerprint": fingerprint,
        "source": raw_manifest.get("source", str(raw)),
        "raw": str(raw),
        "layout": scan.layout,
        "layout_reason": scan.why,
        "config": config.output_settings(),
        "split_policy": policy,
        "found": len(scan.items) + len(scan.problems),
        "kept": len(kept),
        "quarantined": len(quarantine),
        "quarantine_reasons": _count(q["reason"] for q in quarantine),
        "exact_duplicates_dropped": sum(1 for d in duplicates if d["kind"] == "exact"),
        "near_duplicate_groups": 0 if plan is None else len(plan.groups),
        "near_duplicate_images": 0 if plan is None else sum(len(g) for g in plan.groups),
        "cross_split_groups": 0 if plan is None else len({plan.group_of[i] for i in plan.moved}),
        "moved": moved,
        "conflicting_labels": outcome["conflicts"],
        "counts": {s: len(rows[s]) for s in SPLITS},
        "per_class": {s: _count(r["label"] for r in rows[s]) for s in SPLITS},
        "num_classes": len({item.label for item, _ in kept}),
        "warnings": outcome.get("warnings", []),
        "source_modes": modes,
        "seconds": outcome["seconds"],
    }


def _refuse(interim: Path, summary: dict[str, Any], quarantine: list[dict[str, Any]],
            duplicates: list[dict[str, Any]], error: DataError) -> None:
    """Write the report (so the curator sees why), remove stale splits, raise ``error``."""
    from butterflyer.data.report import write_report

    interim.mkdir(parents=True, exist_ok=True)
    for name in (SUMMARY_FILE, LABELS_FILE, *(f"{s}.csv" for s in SPLITS)):
        (interim / name).unlink(missing_ok=True)  # never leave an older run's splits to be trained on
    summary = dict(summary, refused=str(error))
    write_report(interim, summary, quarantine, duplicates, sorted(summary["per_class"].get("train", {})))
    raise error


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
    Raises :class:`DataError` (after writing ``report.md``) when no photo is usable or fewer
    than two labels are left.
    """
    if config.near_threshold > 32:
        raise ConfigError("near_threshold above 32 bits would group unrelated photos; use 0-12.")
    raw, raw_manifest = _resolve_raw(raw)
    interim = Path(interim) if interim is not None else paths.interim_dir()
    excluded = read_flagged_keys(Path(config.exclude_audit)) if config.exclude_audit else set()
    fingerprint = _fingerprint(raw_manifest, config, excluded)
    previous = _previous_run(interim, fingerprint)
    if previous is not None:
        return dict(previous, reused=True)

    started = time.perf_counter()
    scan = scan_source(raw)
    if on_total:
        on_total(len(scan.items))
    good, quarantine = _validate(scan.items, scan.problems, config, progress)
    t_checked = time.perf_counter()
    kept, duplicates, conflicts = _drop_exact_copies(good, quarantine)
    outcome: dict[str, Any] = {"kept": kept, "quarantine": quarantine, "duplicates": duplicates,
                               "conflicts": conflicts, "seconds": {"check": round(t_checked - started, 2)}}

    def summary_now() -> dict[str, Any]:
        outcome["seconds"]["total"] = round(time.perf_counter() - started, 2)
        return _summarise(raw, raw_manifest, fingerprint, config, scan, outcome)

    try:
        if not kept:
            refuse_no_photos(len(scan.items) + len(scan.problems), _count(q["reason"] for q in quarantine))
        refuse_too_few_labels(sorted({item.label for item, _ in kept}), scan.why)
    except DataError as exc:
        _refuse(interim, summary_now(), quarantine, duplicates, exc)
    outcome["plan"] = plan = _assign_splits(kept, config, duplicates)
    label_names, outcome["rows"], audit = _split_rows(kept, plan, excluded)
    summary = summary_now()
    summary["audit_excluded"] = {"file": config.exclude_audit, **audit} if config.exclude_audit else None
    summary["warnings"] = label_warnings(summary["per_class"], label_names)

    interim.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        write_split_csv(interim / f"{split}.csv", outcome["rows"][split])
    atomic_write_json(interim / LABELS_FILE, label_names)
    from butterflyer.data.report import write_report

    write_report(interim, summary, quarantine, duplicates, label_names)
    atomic_write_json(interim / SUMMARY_FILE, summary)
    return dict(summary, reused=False)


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
