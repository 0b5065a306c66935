"""The shift benchmark (benchmarks/bench_shift.py): shifts really change the photos, runs are repeatable,
and the table holds every model, shift and the gate on everyday photos."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from butterflyer.data.interim import write_split_csv
from butterflyer.data.records import RecordsConfig, build_records
from butterflyer.fileio import atomic_write_json, sha256_file

from .conftest import LABELS, imagenet_logits, make_constant_onnx, make_tiny_folder, photo


@pytest.fixture(scope="module")
def bench(load_benchmark) -> ModuleType:  # noqa: ANN001
    return load_benchmark("bench_shift")


def _records(root: Path, per_label: int = 2) -> str:
    rows = []
    for index, label in enumerate(LABELS):
        for k in range(per_label):
            path = root / "img" / f"{index}-{k}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            photo((120, 90), seed=10 * index + k).save(path, quality=90)
            rows.append({"key": f"test/{label}/{k}.jpg", "path": str(path), "label": label,
                         "label_index": index, "split": "test", "sha256": sha256_file(path),
                         "bytes": path.stat().st_size, "width": 120, "height": 90, "group": "",
                         "source_split": "test"})
    write_split_csv(root / "interim" / "test.csv", rows)
    atomic_write_json(root / "interim" / "labels.json", LABELS)
    build_records(root / "interim", str(root / "records"), config=RecordsConfig(workers=1))
    return str(root / "records")


def test_every_shift_changes_the_photo_deterministically(bench: ModuleType):
    img = photo((160, 120), seed=3)
    base = np.asarray(img, dtype=np.float32)
    for name in bench.SHIFTS:
        previous = 0.0
        for severity in (1, 2, 3):
            out = bench.apply_shift(img, name, severity, seed=0, index=5)
            assert out.mode == "RGB"
            again = bench.apply_shift(img, name, severity, seed=0, index=5)
            assert np.array_equal(np.asarray(out), np.asarray(again)), name  # seeded
            if name == "crop_tight":
                assert out.width < img.width and out.height < img.height
                assert out.width == int(160 * (0.8, 0.65, 0.5)[severity - 1])
                continue
            if name == "crop_loose":
                assert out.width > img.width and out.height > img.height
                continue
            assert out.size == img.size, name
            change = float(np.abs(np.asarray(out, dtype=np.float32) - base).mean())
            assert change > 1.0, (name, severity)
            if name not in ("rotate", "clutter", "colour_cast", "exposure"):  # random direction per call
                assert change >= previous - 0.5, (name, severity)  # stronger severity, bigger change
            previous = change
    clutter = bench.apply_shift(img, "clutter", 3, seed=0, index=1)
    assert not np.array_equal(np.asarray(clutter)[:5, :5], base[:5, :5].astype(np.uint8))  # a background
    assert bench.conditions([1, 3])[:3] == [("clean", 0), ("crop_tight", 1), ("crop_tight", 3)]


@pytest.mark.slow
def test_table_has_every_model_shift_and_the_gate(bench: ModuleType, tmp_path: Path, capsys):
    records = _records(tmp_path)
    tiny = make_tiny_folder(tmp_path / "tiny")
    # pixels ignored; species 0 wins, ImageNet says "espresso": the gate rejects everything
    rejecting = make_constant_onnx(tmp_path / "reject", [3.0, 0.0, 0.0, 0.0], imagenet_logits(False),
                                   labels=LABELS)
    out = tmp_path / "shift.json"
    assert bench.model_name(str(tiny)) == ("tiny", str(tiny))
    assert bench.model_name(f"int8={tiny}") == ("int8", str(tiny))
    assert bench.model_name("/x/run/model") == ("run", "/x/run/model")
    bench.main(["--model", str(tiny), "--model", f"reject={rejecting}", "--records", records, "--limit", "5",
                "--severities", "1,3", "--json", str(out)])
    text = capsys.readouterr().out
    assert "test photos: 5" in text
    for name in bench.SHIFTS:
        assert f"| {name}@1 |" in text and f"| {name}@3 |" in text
    assert "mean over shifts" in text and "everyday photos rejected" in text
    assert "tiny top-1" in text and "reject top-1" in text
    import json

    results = json.loads(out.read_text())
    rej = results["reject"]
    sample = bench.test_photos(records, 5, 0)
    monarchs = sum(label == LABELS[0] for _, label in sample) / 5  # the constant model always says MONARCH
    for cond in rej["butterflies"].values():
        assert cond == {"top1": pytest.approx(monarchs), "passed": 0.0}
    assert rej["mean_everyday_rejected"] == 1.0 and rej["mean_shift_passed"] == 0.0
    assert len(results["tiny"]["butterflies"]) == 1 + 2 * len(bench.SHIFTS)
    assert 0.0 <= results["tiny"]["mean_shift_top1"] <= 1.0
