"""The compression report: which model ships, and the table that justifies it.

``select_ship`` picks the fastest ONNX variant (batch 1, one thread) whose **val** top-1 is within
``max_top1_drop`` (a fraction) of the teacher's (choosing on val keeps the test split an
honest final measurement) and, with ``gate_check``, whose not-a-butterfly gate, fitted
as it will be served, rejects at least ``min_everyday_rejected`` of the bundled
everyday photos (:mod:`butterflyer.compress.ood_check`; checked lazily, fastest
first, so usually one or two fits). Why: a distilled pruned model can match the
teacher on species yet lose what a gate reads (its ImageNet answers drifted and let
cat photos through). When no candidate passes, the one rejecting the most ships and
the targets say so.
``write_report`` writes ``compression.json`` (every figure), ``compression.md`` (the
table + targets) and ``compression.png`` (top-1 against batch-1 latency, marker area
proportional to file size).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from butterflyer.compress.config import CompressConfig
from butterflyer.compress.ood_check import OodCheck
from butterflyer.compress.variants import Row
from butterflyer.errors import CompressionError
from butterflyer.fileio import atomic_write_json, atomic_write_text


def _p50(row: Row, threads: int) -> float:
    value = row.p50(threads)
    return math.inf if value is None else value


def select_ship(rows: list[Row], config: CompressConfig, teacher_index: int,
                check: Callable[[Row], OodCheck] | None = None) -> tuple[Row, dict[str, Any]]:
    """The row to ship and the measured targets (see the module docstring)."""
    teacher = rows[teacher_index]
    # one thread: the per-request cost in a multi-worker server, and the figure least
    # disturbed by other processes on a shared machine
    top = min(config.threads)
    arch_rows = [r for r in rows if not r.name.startswith("vgg16")]
    candidates = [r for r in arch_rows if r.runtime != "pytorch" and r.val_top1 is not None]
    if not candidates:
        raise CompressionError("no ONNX variant was evaluated; nothing can be shipped")
    if teacher.val_top1 is not None:
        floor = teacher.val_top1 - config.max_top1_drop
        ok = [r for r in candidates if (r.val_top1 or 0.0) >= floor]
    else:
        ok = candidates
    ordered = sorted(ok or candidates, key=lambda r: _p50(r, top))
    rule = (f"fastest ONNX variant at {top} thread(s) with val top-1 within "
            f"{100 * config.max_top1_drop:g} point(s) of the teacher")
    targets: dict[str, Any] = {}
    if check is None or not config.gate_check:
        ship = ordered[0]
    else:
        rule += (f" whose fitted not-a-butterfly gate rejects at least {config.min_everyday_rejected:.0%} of "
                 "the bundled everyday photos")
        ship, held_back, failed = _first_with_a_safe_gate(ordered, config, check)
        if held_back:
            targets["held_back_for_the_gate"] = held_back
        if failed:
            targets["gate_check_failed"] = True
    targets = {"shipped": ship.name, "selection": rule, **targets}
    if ship.gate_everyday_rejected is not None:
        targets["ship_gate_everyday_rejected"] = ship.gate_everyday_rejected
        targets["ship_gate_test_false_reject"] = ship.gate_test_false_reject
    for n in config.threads:
        ref, got = teacher.p50(n), ship.p50(n)
        if ref and got:
            targets[f"ship_speedup_vs_pytorch_{n}t"] = round(ref / got, 2)
    speedups = [v for k, v in targets.items() if k.startswith("ship_speedup")]
    targets["ship_speedup_ok"] = bool(speedups) and min(speedups) >= 3.0
    if teacher.test_top1 is not None and ship.test_top1 is not None:
        loss = teacher.test_top1 - ship.test_top1
        targets["ship_test_top1_loss"] = round(loss, 4)
        targets["ship_accuracy_ok"] = loss <= 0.01
    if ship.imagenet_agreement is not None:
        targets["ship_imagenet_top1_agreement_val"] = round(ship.imagenet_agreement, 4)
    parity = [r.parity_max_prob_diff for r in rows if r.parity_max_prob_diff is not None]
    if parity:
        targets["onnx_parity_max_prob_diff"] = max(parity)
        targets["onnx_parity_ok"] = max(parity) < 1e-4
    vgg = [r for r in rows if r.name.startswith("vgg16")]
    if len(vgg) == 2:
        base, pruned = vgg
        targets["vgg16_params_reduction"] = round(base.params / pruned.params, 2)
        targets["vgg16_params_ok"] = base.params / pruned.params >= 10.0
        if base.test_top1 is not None and pruned.test_top1 is not None:
            targets["vgg16_test_top1_loss"] = round(base.test_top1 - pruned.test_top1, 4)
    return ship, targets


def _first_with_a_safe_gate(ordered: list[Row], config: CompressConfig, check: Callable[[Row], OodCheck]
                            ) -> tuple[Row, list[str], bool]:
    """Check rows fastest first; the first that passes ships, else the one rejecting the most."""
    held_back: list[str] = []
    results: list[tuple[Row, OodCheck]] = []
    for row in ordered:
        result = check(row)
        row.gate_kind = result.kind
        row.gate_everyday_rejected = f"{result.everyday_rejected}/{result.everyday_total}"
        row.gate_test_false_reject = round(result.test_false_reject, 4)
        if result.passes(config.min_everyday_rejected):
            return row, held_back, False
        held_back.append(row.name)
        results.append((row, result))
    best = max(results, key=lambda pair: pair[1].everyday_rejected)[0]  # max keeps the first (fastest) tie
    return best, [name for name in held_back if name != best.name], True


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else 100.0 * fraction


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def markdown(rows: list[Row], targets: dict[str, Any], config: CompressConfig, ship: Row) -> str:
    """The report as markdown."""
    lat_cols = "".join(f" p50/p95 ms ({n}t) |" for n in config.threads)
    top = max(config.threads)
    lines = [
        "# Compression report", "",
        f"Shipped model: **{ship.name}** (`{ship.model_dir}`). Rule: {targets['selection']}.", "",
        f"| variant | runtime | params (M) | file (MB) | MACs (G) | top-1 | top-5 | val top-1 |{lat_cols}"
        f" img/s b32 ({top}t) | fine-tune (s) | ImageNet agree (%) | gate: everyday rejected |"
        " gate: test false rejects (%) |",
        "|---" * (13 + len(config.threads)) + "|",
    ]
    for r in rows:
        lat = "".join(f" {_fmt(r.latency_ms.get(str(n), {}).get('p50'))} / "
                      f"{_fmt(r.latency_ms.get(str(n), {}).get('p95'))} |" for n in config.threads)
        lines.append(f"| {r.name} | {r.runtime} | {r.params / 1e6:.2f} | {_fmt(r.file_mb, 2)} | "
                     f"{r.macs / 1e9:.3f} | {_fmt(_percent(r.test_top1))} | {_fmt(_percent(r.test_top5))} | "
                     f"{_fmt(_percent(r.val_top1))} |"
                     f"{lat} {_fmt(r.throughput_b32)} | {_fmt(r.finetune_s)} | "
                     f"{_fmt(_percent(r.imagenet_agreement))} | "
                     f"{r.gate_everyday_rejected or 'not checked'} | "
                     f"{_fmt(_percent(r.gate_test_false_reject), 2)} |")
    lines += ["", "## Targets", ""]
    lines += [f"- `{k}`: {v}" for k, v in targets.items() if k not in ("shipped", "selection")]
    notes = [f"- **{r.name}**: {r.note}" for r in rows if r.note]
    lines += ["", "## Notes", "",
              "- top-1/top-5: % on the test split; val top-1 chooses the shipped model. MACs per image at "
              "the model's input size, both heads counted. Latency: batch 1, ONNX Runtime CPU (PyTorch "
              "eager for the PyTorch row), p50/p95 over repeated calls after a warm-up.",
              "- ImageNet agree: % of val images whose ImageNet top-1 class matches the teacher's "
              "(for information: the served gate reads the model's own features).",
              "- gate: the not-a-butterfly gate fitted as served (checked fastest first until one "
              "passes); everyday rejected = bundled non-butterfly photos turned away; test false "
              "rejects = test butterflies turned away.",
              "- Timings come from one run on a shared machine: compare rows with each other, not with "
              "other runs.", *notes, ""]
    return "\n".join(lines)


def plot(rows: list[Row], path: Path, threads: int) -> Path | None:
    """Top-1 against batch-1 latency; marker area proportional to file size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [r for r in rows if r.test_top1 is not None and r.p50(threads) is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in points:
        x, y = r.p50(threads) or 0.0, 100.0 * (r.test_top1 or 0.0)
        ax.scatter(x, y, s=max(20.0, r.file_mb * 8), alpha=0.6)
        ax.annotate(r.name, (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(f"batch-1 CPU latency p50 (ms, {threads} thread(s), log scale)")
    ax.set_ylabel("test top-1 (%)")
    ax.set_title("Accuracy against latency (marker area ~ file size)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    from io import BytesIO

    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    from butterflyer.fileio import atomic_write_bytes

    return atomic_write_bytes(path, buf.getvalue())


def write_report(rows: list[Row], targets: dict[str, Any], config: CompressConfig, out: Path, ship: Row
                 ) -> tuple[Path, Path, Path | None]:
    """Write ``compression.{json,md,png}`` into ``out``."""
    png = plot(rows, out / "compression.png", min(config.threads))
    js = atomic_write_json(out / "compression.json", {
        "shipped": {"name": ship.name, "model_dir": ship.model_dir}, "targets": targets,
        "rows": [r.to_dict() for r in rows], "config": config.model_dump()})
    md_text = markdown(rows, targets, config, ship)
    if png is not None:
        md_text += f"\n![accuracy against latency]({png.name})\n"
    md = atomic_write_text(out / "compression.md", md_text)
    return md, js, png
