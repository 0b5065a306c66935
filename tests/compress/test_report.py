"""The shipping rule and the report files, on hand-made rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from butterflyer.compress.config import CompressConfig
from butterflyer.compress.ood_check import OodCheck
from butterflyer.compress.report import select_ship, write_report
from butterflyer.compress.variants import Row


def _row(name: str, runtime: str, val: float, test: float, p50: float, mb: float = 10.0) -> Row:
    """A row from top-1 figures written in percent (rows store fractions)."""
    return Row(name, runtime, f"/m/{name}", 1_000_000, 2_000_000, mb, 0.0, val_top1=val / 100,
               test_top1=test / 100, test_top5=0.99, latency_ms={"1": {"p50": p50, "p95": p50 * 1.2},
                                           "2": {"p50": p50, "p95": p50}},
               throughput_b32=100.0 / p50, parity_max_prob_diff=1e-6 if runtime == "onnx-fp32" else None)


def test_ships_fastest_variant_within_the_val_budget(tmp_path: Path) -> None:
    rows = [_row("t", "pytorch", 90.0, 89.0, 60.0), _row("t-onnx", "onnx-fp32", 90.0, 89.0, 20.0),
            _row("p-int8", "onnx-int8", 87.0, 86.0, 5.0, 3.0),
            _row("t-int8", "onnx-int8", 89.4, 88.8, 12.0, 5.0)]
    ship, targets = select_ship(rows, CompressConfig(), 0)
    assert ship.name == "t-int8"  # the faster pruned one loses 3 points on val: not shippable
    assert targets["ship_speedup_vs_pytorch_1t"] == 5.0 and targets["ship_speedup_ok"] is True
    assert targets["ship_test_top1_loss"] == pytest.approx(0.002) and targets["ship_accuracy_ok"] is True
    assert targets["onnx_parity_ok"] is True
    md, js, png = write_report(rows, targets, CompressConfig(), tmp_path, ship)
    text = md.read_text()
    assert "Shipped model: **t-int8**" in text and "| p-int8 | onnx-int8 |" in text
    assert "| 88.8 | 99.0 | 89.4 |" in text  # fractions stored, percent shown
    assert "within 1 point(s)" in targets["selection"]
    assert png is not None and png.stat().st_size > 1000 and js.is_file()


def _checker(rejected: dict[str, int], total: int = 23) -> tuple[list[str], Callable[[Row], OodCheck]]:
    seen: list[str] = []

    def check(row: Row) -> OodCheck:
        seen.append(row.name)
        return OodCheck("feature_neighbours", rejected[row.name], total, 0.004)

    return seen, check


def test_a_variant_whose_gate_lets_everyday_photos_through_is_held_back() -> None:
    rows = [_row("t", "pytorch", 90.0, 89.0, 60.0), _row("t-onnx", "onnx-fp32", 90.0, 89.0, 20.0),
            _row("p-int8", "onnx-int8", 91.0, 92.0, 4.0, 3.0), _row("t-int8", "onnx-int8", 89.6, 89.2, 5.0)]
    seen, check = _checker({"p-int8": 21, "t-int8": 23, "t-onnx": 23})
    ship, targets = select_ship(rows, CompressConfig(), 0, check)
    assert ship.name == "t-int8" and targets["held_back_for_the_gate"] == ["p-int8"]
    assert seen == ["p-int8", "t-int8"]  # fastest first, and no further than needed
    assert targets["ship_gate_everyday_rejected"] == "23/23" and rows[2].gate_everyday_rejected == "21/23"
    assert rows[1].gate_everyday_rejected is None  # never checked
    seen, check = _checker({"p-int8": 21, "t-int8": 23, "t-onnx": 23})
    ship, targets = select_ship(rows, CompressConfig(gate_check=False), 0, check)
    assert ship.name == "p-int8" and "held_back_for_the_gate" not in targets and not seen
    ship, _ = select_ship(rows, CompressConfig(min_everyday_rejected=0.9), 0, _checker({"p-int8": 21})[1])
    assert ship.name == "p-int8"  # 21/23 = 91 % is enough at a 90 % bar


def test_when_no_gate_passes_the_one_rejecting_most_ships_and_the_targets_say_so() -> None:
    rows = [_row("t", "pytorch", 90.0, 89.0, 60.0), _row("t-onnx", "onnx-fp32", 90.0, 89.0, 20.0),
            _row("p-int8", "onnx-int8", 91.0, 92.0, 4.0, 3.0), _row("t-int8", "onnx-int8", 89.6, 89.2, 5.0)]
    _, check = _checker({"p-int8": 20, "t-int8": 22, "t-onnx": 22})
    ship, targets = select_ship(rows, CompressConfig(), 0, check)
    assert ship.name == "t-int8" and targets["gate_check_failed"] is True
    assert targets["held_back_for_the_gate"] == ["p-int8", "t-onnx"]


def test_a_looser_budget_ships_the_pruned_int8_model() -> None:
    rows = [_row("t", "pytorch", 90.0, 89.0, 60.0), _row("t-onnx", "onnx-fp32", 90.0, 89.0, 20.0),
            _row("p-int8", "onnx-int8", 87.0, 86.0, 5.0, 3.0)]
    ship, targets = select_ship(rows, CompressConfig(max_top1_drop=0.05), 0)
    assert ship.name == "p-int8" and targets["ship_accuracy_ok"] is False
