"""Is the accuracy luck of one split? Re-split with several seeds, train each, print mean and spread.

    .venv/bin/python benchmarks/bench_accuracy.py [--seeds 0,1,2] [--profile auto]
        [--finetune-epochs N] [--set FIELD=VALUE ...] [--limit N] [--work DIR]

For each seed: ``prepare`` re-splits the collected source at random (seeded,
stratified by label, near-duplicate groups kept in one split) with the same
split sizes as the current ``interim/`` (the source's own split), ``build-records``
writes records, and ``butterflyer.train.trainer.train`` trains with the given
profile. Prints each seed's val/test top-1 and temperature-scaled test ECE, then
mean, standard deviation and range over seeds, with the 95 % binomial interval of
one split for scale. ``--limit N`` keeps at most N photos per label (quick runs).
Everything lands under ``--work`` (default ``$BUTTERFLYER_HOME/bench-accuracy``);
the home's own interim/ and records/ are not touched.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
from pathlib import Path
from typing import Any

METRICS = ("val_top1", "test_top1", "test_ece_calibrated", "test_ece_floor")


def source_ratios(interim: Path | None = None) -> tuple[float, float, float]:
    """Split sizes of ``interim`` (default: the home's interim/) as ratios (default 0.8, 0.1, 0.1)."""
    from butterflyer import paths
    from butterflyer.fileio import read_json

    summary = (interim or paths.interim_dir()) / "prepare.json"
    if summary.is_file():
        counts = read_json(summary)["counts"]
        total = sum(counts.values())
        if total:
            return counts["train"] / total, counts["val"] / total, counts["test"] / total
    return 0.8, 0.1, 0.1


def limit_interim(interim: Path, per_label: int) -> None:
    """Keep at most ``per_label`` photos per label, shared among the splits in their proportions."""
    from butterflyer.data.interim import SPLITS, read_split_csv, write_split_csv

    rows = {s: read_split_csv(interim / f"{s}.csv") for s in SPLITS}
    total = sum(len(r) for r in rows.values())
    for split in SPLITS:
        share = max(1, round(per_label * len(rows[split]) / max(1, total)))
        kept: dict[str, int] = {}
        out = []
        for row in rows[split]:  # rows are sorted by key, so the cut is deterministic
            if kept.get(row["label"], 0) < share:
                kept[row["label"]] = kept.get(row["label"], 0) + 1
                out.append(row)
        write_split_csv(interim / f"{split}.csv", out)


def run_seed(seed: int, work: Path, ratios: tuple[float, float, float], limit: int | None,
             overrides: dict[str, Any], raw: Path | None = None) -> dict[str, float]:
    """Re-split with ``seed``, build records, train; returns the run's metrics."""
    from butterflyer.data.prepare import PrepareConfig, prepare
    from butterflyer.data.records import RecordsConfig, build_records
    from butterflyer.train.config import TrainConfig
    from butterflyer.train.trainer import train

    folder = work / f"seed{seed}"
    interim = folder / "interim"
    config = PrepareConfig(keep_source_split=False, ratios=ratios, seed=seed)
    summary = prepare(raw=raw, interim=interim, config=config)
    if limit is not None:
        limit_interim(interim, limit)
    records = folder / "records"
    build_records(interim, str(records), config=RecordsConfig(seed=seed))
    run = {"input": str(records), "output": str(folder / "run"), "seed": seed, "tracker": "none"}
    cfg = TrainConfig(**{**run, **overrides})
    shutil.rmtree(folder / "run", ignore_errors=True)  # this script's own earlier run: train afresh
    metrics = train(cfg).metrics
    return {**{k: float(metrics.get(k, float("nan"))) for k in METRICS},
            "test_photos": float(summary["counts"]["test"] if limit is None else _count(interim, "test"))}


def _count(interim: Path, split: str) -> int:
    from butterflyer.data.interim import read_split_csv

    return len(read_split_csv(interim / f"{split}.csv"))


def summarise(per_seed: dict[int, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, sample standard deviation, min and max of each metric over seeds."""
    out = {}
    for key in METRICS:
        values = [m[key] for m in per_seed.values()]
        out[key] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values),
            "max": max(values),
        }
    return out


def table(per_seed: dict[int, dict[str, float]], summary: dict[str, dict[str, float]]) -> str:
    lines = ["| seed | val top-1 | test top-1 | test ECE (T-scaled) | ECE floor | test photos |",
             "|---:|---:|---:|---:|---:|---:|"]
    for seed, m in per_seed.items():
        cells = [f"{m[k]:.2%}" for k in METRICS]
        lines.append(f"| {seed} | {' | '.join(cells)} | {int(m['test_photos'])} |")
    for stat in ("mean", "std", "min", "max"):
        cells = [f"{summary[k][stat]:.2%}" for k in METRICS]
        lines.append(f"| {stat} | {' | '.join(cells)} | |")
    n = statistics.fmean(m["test_photos"] for m in per_seed.values())
    p = summary["test_top1"]["mean"]
    half = 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))
    lines.append(f"\nOne split of {n:.0f} test photos at {p:.1%} has a 95 % binomial interval of about "
                 f"+/- {half:.1%}; the spread over seeds above is the split-to-split part of it.")
    lines.append("ECE floor: the ECE a perfectly calibrated model with the same confidences would show "
                 "on a split of this size (sampling noise alone).")
    return "\n".join(lines)


def training_overrides(items: list[str], profile: str | None, finetune_epochs: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set takes FIELD=VALUE (a TrainConfig field), got '{item}'")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value  # a plain string such as a model name
    if profile is not None:
        out["profile"] = profile
    if finetune_epochs is not None:
        out["fast_finetune_epochs"] = finetune_epochs
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from butterflyer import paths

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated split seeds")
    ap.add_argument("--profile", default=None, help="training profile for TrainConfig (default: its own)")
    ap.add_argument("--finetune-epochs", type=int, default=None, help="fast path fine-tune epochs")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="any other TrainConfig field, e.g. --set fast_finetune_blocks=2 (repeatable)")
    ap.add_argument("--limit", type=int, default=None, help="at most N photos per label (quick runs)")
    ap.add_argument("--work", type=Path, default=None, help="output folder (default: home/bench-accuracy)")
    ap.add_argument("--raw", type=Path, default=None, help="collected source (default: the latest collected)")
    ap.add_argument("--sizes-from", type=Path, default=None,
                    help="interim folder whose split sizes to copy (default: the home's interim/)")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    overrides = training_overrides(args.set, args.profile, args.finetune_epochs)
    work = args.work or paths.home() / "bench-accuracy"
    ratios = source_ratios(args.sizes_from)
    print(f"split ratios {tuple(round(r, 4) for r in ratios)}, seeds {seeds}, training overrides {overrides}")
    per_seed = {seed: run_seed(seed, work, ratios, args.limit, overrides, args.raw) for seed in seeds}
    summary = summarise(per_seed)
    print(table(per_seed, summary))
    result = {"seeds": per_seed, "summary": summary, "overrides": overrides, "ratios": ratios,
              "limit": args.limit}
    from butterflyer.fileio import atomic_write_json

    atomic_write_json(work / "bench_accuracy.json", result)
    return result


if __name__ == "__main__":
    main()
