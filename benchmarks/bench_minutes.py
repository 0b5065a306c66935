"""Accuracy against training minutes for the CPU profiles: which point the main job takes.

    .venv/bin/python benchmarks/bench_minutes.py --records URI
        [--recipes head,1x2,1x4,3x6] [--threads N] [--work DIR] [--set FIELD=VALUE ...]

A recipe ``BxE`` fine-tunes the last ``B`` stages for ``E`` epochs on cached
early-stage maps (:mod:`butterflyer.train.late_stage`); ``head`` trains the head
only (the main job's default). Every recipe trains on the same records, with the
same seed, through ``butterflyer.train.trainer.train``, so the figures are what the
CLI would give.

Minutes are what a fresh home would spend in the train step: the early-stage maps
are computed cold once per cut (recipes with the same ``B`` share them, as one run
would not), so each recipe's minutes = its cut's cold map time + its own head and
fine-tune time. Prints val and test top-1 (with the test split's 95 % Wilson
interval), temperature-scaled test ECE and ImageNet agreement per recipe, writes
``bench_minutes.json`` and ``bench_minutes.png`` (top-1 against minutes).

Test figures are printed for the record. Choose a recipe on val; the shift benchmark
(``bench_shift.py``) shifts the test split's photos, so once it has taken part in a
choice, the chosen recipe's test figures are development figures for that choice.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_accuracy import training_overrides  # noqa: E402

from butterflyer.paths import HOME_ENV  # noqa: E402

RECIPE = re.compile(r"^(?:head|(\d+)x(\d+))$")


@dataclass(frozen=True)
class Recipe:
    """One point of the curve: ``blocks`` late stages fine-tuned for ``epochs`` (0: head only)."""

    name: str
    blocks: int
    epochs: int

    def overrides(self) -> dict[str, int]:
        return {"fast_finetune_blocks": self.blocks, "fast_finetune_epochs": self.epochs}


def parse_recipes(text: str) -> list[Recipe]:
    """``"head,1x2,3x6"`` -> recipes; a bad item is a ``SystemExit`` that says the format."""
    out = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        match = RECIPE.match(item)
        if match is None:
            raise SystemExit(f"recipe '{item}': use 'head' or BxE (B late stages, E epochs), e.g. 3x6")
        blocks, epochs = (1, 0) if item == "head" else (int(match[1]), int(match[2]))
        if blocks < 1 or (item != "head" and epochs < 1):
            raise SystemExit(f"recipe '{item}': B and E must be at least 1")
        out.append(Recipe(item, blocks, epochs))
    if not out:
        raise SystemExit("--recipes is empty; e.g. --recipes head,1x2,3x6")
    return out


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion ``p`` measured on ``n`` items."""
    if n <= 0:
        return float("nan"), float("nan")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


def minutes(cold_maps_s: float, metrics: dict[str, float]) -> float:
    """Train-step minutes of a fresh home: the cut's cold map time plus this run's own work."""
    own = metrics.get("time_head_s", 0.0) + metrics.get("time_finetune_s", 0.0)
    return (cold_maps_s + own) / 60.0


def run_recipe(recipe: Recipe, records: str, work: Path, cold: dict[int, float],
               extra: dict[str, Any]) -> dict[str, float]:
    """Train one recipe; the cut's maps are cached under ``work/cache-B`` (cold the first time)."""
    from butterflyer.train.config import TrainConfig
    from butterflyer.train.trainer import train

    out = work / "runs" / recipe.name
    shutil.rmtree(out, ignore_errors=True)
    cfg = TrainConfig(input=records, output=str(out), tracker="none", profile="cpu-fast",
                      **{**extra, **recipe.overrides()})
    home_before = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = str(work / f"home-blocks{recipe.blocks}")  # this cut's own maps cache
    try:
        metrics = dict(train(cfg).metrics)
    finally:
        if home_before is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = home_before
    cold.setdefault(recipe.blocks, metrics.get("time_features_s", 0.0))
    metrics["minutes"] = minutes(cold[recipe.blocks], metrics)
    metrics["model_dir"] = str(out / "model")  # type: ignore[assignment]
    return metrics


def table(rows: dict[str, dict[str, Any]], test_n: int) -> str:
    lines = ["| recipe | train-step minutes | val top-1 | test top-1 (95 % interval) | test ECE (T-scaled) "
             "| ImageNet agreement (val) |", "|---|---:|---:|---:|---:|---:|"]
    for name, m in rows.items():
        lo, hi = wilson(m["test_top1"], test_n)
        lines.append(f"| {name} | {m['minutes']:.1f} | {m['val_top1']:.2%} | {m['test_top1']:.2%} "
                     f"({lo:.1%}-{hi:.1%}) | {m['test_ece_calibrated']:.2%} | "
                     f"{m.get('imagenet_agreement_val', float('nan')):.1%} |")
    return "\n".join(lines)


def plot(rows: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [m["minutes"] for m in rows.values()]
    for key, marker in (("val_top1", "o"), ("test_top1", "s")):
        ax.plot(xs, [100 * m[key] for m in rows.values()], marker, label=key.replace("_top1", " top-1"))
    for name, m in rows.items():
        ax.annotate(name, (m["minutes"], 100 * m["val_top1"]), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("train-step minutes (fresh home)")
    ax.set_ylabel("top-1 (%)")
    ax.set_title("CPU profiles: accuracy against minutes")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def test_photos(records: str) -> int:
    from butterflyer.train.data import split_size

    return split_size(records, "test")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", required=True, help="records URI (build-records output)")
    ap.add_argument("--recipes", default="head,1x2,1x4,3x6", help="comma-separated: head or BxE")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: the trainer's choice)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="any other TrainConfig field, e.g. --set max_steps=20 (repeatable)")
    ap.add_argument("--work", type=Path, default=Path("bench-minutes"), help="output folder")
    args = ap.parse_args(argv)
    recipes = parse_recipes(args.recipes)
    extra: dict[str, Any] = {"threads": args.threads, **training_overrides(args.set, None, None)}
    args.work.mkdir(parents=True, exist_ok=True)
    cold: dict[int, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    n = test_photos(args.records)
    for recipe in recipes:
        print(f"== {recipe.name}: last {recipe.blocks} stage(s), {recipe.epochs} epoch(s)", flush=True)
        rows[recipe.name] = run_recipe(recipe, args.records, args.work, cold, extra)
        print(table({recipe.name: rows[recipe.name]}, n).splitlines()[-1], flush=True)
    print(table(rows, n))
    from butterflyer.fileio import atomic_write_json

    result = {"recipes": rows, "cold_maps_s": cold, "test_photos": n}
    atomic_write_json(args.work / "bench_minutes.json", result)
    plot(rows, args.work / "bench_minutes.png")
    print(f"wrote {args.work / 'bench_minutes.json'} and {args.work / 'bench_minutes.png'}")
    return result


if __name__ == "__main__":
    main()
