"""The re-split benchmark (benchmarks/bench_accuracy.py): each seed is its own split of the same size,
duplicate groups stay together, a model is trained per seed and the spread is printed."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from butterflyer.data.collect import collect
from butterflyer.data.interim import read_interim
from butterflyer.data.prepare import PrepareConfig, prepare

from .conftest import make_image_folder


@pytest.fixture(scope="module")
def bench(load_benchmark) -> ModuleType:  # noqa: ANN001
    return load_benchmark("bench_accuracy")


@pytest.mark.slow
def test_three_seeds_resplit_train_and_summarise(bench: ModuleType, tmp_path: Path, capsys):
    root = make_image_folder(tmp_path / "src", {"train": 16, "val": 4, "test": 4}, size=40)
    original = root / "train" / "RED RING" / "000.jpg"
    Image.open(original).save(root / "train" / "RED RING" / "dup.jpg", quality=80)  # a re-saved copy
    collect(root)
    prepare(config=PrepareConfig(workers=1))  # the source's own split: the sizes every seed copies
    work = tmp_path / "work"
    result = bench.main(["--seeds", "0,1,2", "--profile", "cpu-fast", "--set", "model=tiny",
                         "--set", "pretrained=false", "--set", "fast_head_epochs=60", "--set", "lr=0.05",
                         "--work", str(work)])
    text = capsys.readouterr().out
    assert "| mean |" in text and "| std |" in text and "95 % binomial interval" in text
    assert result["overrides"]["model"] == "tiny" and result["overrides"]["profile"] == "cpu-fast"
    splits = {}
    for seed in (0, 1, 2):
        _, rows = read_interim(work / f"seed{seed}" / "interim")
        counts = {s: len(r) for s, r in rows.items()}
        assert sum(counts.values()) == 3 * 24 + 1
        assert abs(counts["test"] - 12) <= 2 and abs(counts["val"] - 12) <= 2  # the source's split sizes
        where = {r["key"]: s for s, rs in rows.items() for r in rs}
        assert where["train/RED RING/000.jpg"] == where["train/RED RING/dup.jpg"]  # duplicates together
        splits[seed] = where
        assert (work / f"seed{seed}" / "run" / "model" / "meta.json").is_file()
    assert splits[0] != splits[1] != splits[2]  # different seeds, different splits
    per_seed = result["seeds"]
    assert len(per_seed) == 3 and all(0.0 <= m["test_top1"] <= 1.0 for m in per_seed.values())
    s = result["summary"]["test_top1"]
    assert s["min"] <= s["mean"] <= s["max"] and s["std"] >= 0.0
    assert s["mean"] > 0.8  # the colour/shape classes are learnable even by the tiny network
    saved = json.loads((work / "bench_accuracy.json").read_text())
    assert saved["summary"]["test_top1"]["mean"] == pytest.approx(s["mean"])


def test_limit_keeps_split_proportions(bench: ModuleType, tmp_path: Path):
    from butterflyer.data.interim import write_split_csv

    interim = tmp_path / "interim"
    for split, n in (("train", 40), ("val", 5), ("test", 5)):
        rows = [{"key": f"{split}/{label}/{k:03d}.jpg", "path": "x", "label": label, "label_index": i,
                 "split": split, "sha256": "", "bytes": 0, "width": 1, "height": 1, "group": "",
                 "source_split": split}
                for i, label in enumerate(("A", "B")) for k in range(n)]
        write_split_csv(interim / f"{split}.csv", rows)
    (interim / "labels.json").write_text('["A", "B"]')
    bench.limit_interim(interim, 10)
    _, rows = read_interim(interim)
    assert {s: len(r) for s, r in rows.items()} == {"train": 16, "val": 2, "test": 2}


def test_set_parses_values(bench: ModuleType):
    out = bench.training_overrides(["fast_finetune_blocks=2", "model=tiny", "pretrained=false"], "full", 3)
    assert out == {"fast_finetune_blocks": 2, "model": "tiny", "pretrained": False, "profile": "full",
                   "fast_finetune_epochs": 3}
    with pytest.raises(SystemExit):
        bench.training_overrides(["oops"], None, None)
