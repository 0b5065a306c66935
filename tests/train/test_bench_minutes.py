"""The accuracy-against-minutes benchmark (benchmarks/bench_minutes.py): recipes, intervals, the run."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from butterflyer.data.collect import collect
from butterflyer.data.prepare import PrepareConfig, prepare
from butterflyer.data.records import build_records

from .conftest import make_image_folder


@pytest.fixture(scope="module")
def bench(load_benchmark) -> ModuleType:  # noqa: ANN001
    return load_benchmark("bench_minutes")


def test_recipes_parse_and_bad_ones_say_the_format(bench: ModuleType) -> None:
    recipes = bench.parse_recipes("head, 1x2,3x6")
    assert [(r.name, r.blocks, r.epochs) for r in recipes] == [("head", 1, 0), ("1x2", 1, 2), ("3x6", 3, 6)]
    assert recipes[2].overrides() == {"fast_finetune_blocks": 3, "fast_finetune_epochs": 6}
    for bad in ("3", "x2", "0x2", "2x0", ""):
        with pytest.raises(SystemExit, match="head|BxE|empty|at least"):
            bench.parse_recipes(bad)


def test_wilson_interval_matches_a_known_value(bench: ModuleType) -> None:
    lo, hi = bench.wilson(468 / 492, 492)  # 95.12 % of 492: 92.8-96.7 % (computed by hand)
    assert round(lo, 3) == 0.928 and round(hi, 3) == 0.967
    lo, hi = bench.wilson(1.0, 10)
    assert hi == pytest.approx(1.0) and 0.65 < lo < 0.75  # never above 1, wide on 10 items


def test_minutes_add_the_cold_maps_once(bench: ModuleType) -> None:
    metrics = {"time_head_s": 30.0, "time_finetune_s": 90.0, "time_features_s": 0.5}  # a warm cache
    assert bench.minutes(120.0, metrics) == pytest.approx(4.0)


@pytest.mark.slow
def test_two_recipes_share_the_cold_maps_and_print_a_table(bench: ModuleType, tmp_path: Path, capsys) -> None:
    root = make_image_folder(tmp_path / "src", {"train": 12, "val": 4, "test": 4}, size=40)
    collect(root)
    prepare(config=PrepareConfig(workers=1))
    records = tmp_path / "records"
    build_records(output=str(records))
    work = tmp_path / "work"
    result = bench.main(["--records", str(records), "--recipes", "head,1x1", "--threads", "1",
                         "--work", str(work), "--set", "model=tiny", "--set", "pretrained=false",
                         "--set", "fast_head_epochs=40", "--set", "lr=0.05"])
    text = capsys.readouterr().out
    assert "| head |" in text and "| 1x1 |" in text and "test top-1 (95 % interval)" in text
    rows = result["recipes"]
    assert set(rows) == {"head", "1x1"} and set(result["cold_maps_s"]) == {1}
    for row in rows.values():
        assert row["minutes"] * 60 >= result["cold_maps_s"][1]  # the cold maps counted in every recipe
        assert 0.0 <= row["test_top1"] <= 1.0 and row["val_top1"] > 0.5  # the tiny task is learnable
        assert Path(row["model_dir"], "meta.json").is_file()
    assert json.loads((work / "bench_minutes.json").read_text())["test_photos"] == result["test_photos"] == 12
    assert (work / "bench_minutes.png").stat().st_size > 1000
