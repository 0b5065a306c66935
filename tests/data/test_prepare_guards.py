"""prepare never silently changes what the model learns: stray files, one label, all bad, lost data."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from butterflyer import paths
from butterflyer.cli.main import app
from butterflyer.data.collect import collect
from butterflyer.data.prepare import PrepareConfig, prepare
from butterflyer.data.validate import check_image
from butterflyer.errors import DataError

CFG = PrepareConfig(workers=1)


def _dataset(root: Path, save_image, labels: tuple[str, ...] = ("ADMIRAL", "MONARCH"),
             per_split: tuple[int, int, int] = (6, 2, 2)) -> Path:
    """``root/butterflies-100/{train,valid,test}/<LABEL>/*.jpg`` plus the files real downloads carry."""
    top = root / "butterflies-100"
    seed = 0
    for split, n in zip(("train", "valid", "test"), per_split, strict=True):
        for label in labels:
            for k in range(n):
                seed += 1
                save_image(top / split / label / f"{k}.jpg", 500 + seed, size=(80, 60))
    (top / "README.md").write_text("# Butterflies\nCollected by volunteers.\n")
    (top / "LICENSE").write_text("CC BY 4.0\n")
    (top / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (top / "notes.csv").write_text("species,notes\nMONARCH,migrates\n")  # no path/label columns: unused
    return root


def _reasons() -> dict[str, str]:
    with open(paths.interim_dir() / "quarantine.csv", newline="") as fh:
        return {row["key"]: row["reason"] for row in csv.DictReader(fh)}


def _labels() -> list[str]:
    return json.loads((paths.interim_dir() / "labels.json").read_text())


def test_readme_and_licence_beside_the_splits_do_not_collapse_the_classes(tmp_path: Path, save_image):
    collect(_dataset(tmp_path / "src", save_image))
    summary = prepare(config=CFG)
    assert _labels() == ["ADMIRAL", "MONARCH"]
    assert summary["layout"] == "split/class folders"
    assert "split names" in summary["layout_reason"] and "not photos were ignored" in summary["layout_reason"]
    assert summary["counts"] == {"train": 12, "val": 4, "test": 4}
    reasons = _reasons()
    assert reasons["butterflies-100/README.md"] == reasons["butterflies-100/LICENSE"] == "not_a_photo_file"
    assert "split names" in (paths.interim_dir() / "report.md").read_text()


def test_a_zip_inside_a_zip_keeps_its_classes(tmp_path: Path, save_image):
    folder = _dataset(tmp_path / "src", save_image)
    inner = tmp_path / "butterflies-100.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    outer = tmp_path / "download.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "butterflies-100.zip")
        zf.writestr("README.txt", "the dataset is inside")
    info = collect(outer)
    assert not any(str(f["path"]).endswith(".zip") for f in info["files"])
    summary = prepare(config=CFG)
    assert _labels() == ["ADMIRAL", "MONARCH"]
    assert summary["layout"] == "split/class folders" and summary["kept"] == 20


def test_one_label_is_refused_with_exit_status_2(tmp_path: Path, save_image):
    collect(_dataset(tmp_path / "src", save_image, labels=("MONARCH",)))
    with pytest.raises(DataError, match="at least 2"):
        prepare(config=CFG)
    assert not (paths.interim_dir() / "labels.json").exists()
    assert "Refused" in (paths.interim_dir() / "report.md").read_text()
    result = CliRunner().invoke(app, ["data", "prepare", "--workers", "1"])
    assert result.exit_code != 0 and isinstance(result.exception, DataError)


def test_few_photos_and_missing_val_test_labels_are_loud_warnings(tmp_path: Path, save_image):
    root = _dataset(tmp_path / "src", save_image)
    top = root / "butterflies-100"
    for k in range(2):
        save_image(top / "train" / "SKIPPER" / f"{k}.jpg", 900 + k, size=(80, 60))
    collect(root)
    result = CliRunner().invoke(app, ["data", "prepare", "--workers", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((paths.interim_dir() / "prepare.json").read_text())
    text = " ".join(summary["warnings"])
    assert "fewer than 5 photos: SKIPPER (2)" in text
    assert "no photo in val: SKIPPER" in text and "no photo in test: SKIPPER" in text
    assert "warning:" in result.output and "SKIPPER" in result.output
    assert "layout: split/class folders" in result.output
    assert "## Warnings" in (paths.interim_dir() / "report.md").read_text()


def test_all_photos_bad_exits_non_zero_with_the_quarantine_summary(tmp_path: Path):
    root = tmp_path / "bad"
    for label in ("A", "B"):
        (root / label).mkdir(parents=True)
        (root / label / "empty.jpg").write_bytes(b"")
        (root / label / "notes.jpg").write_text("not a photo at all")
    collect(root)
    with pytest.raises(DataError, match=r"all 4 files were quarantined \(empty 2, not_an_image 2\)"):
        prepare(config=CFG)
    assert _reasons()["A/empty.jpg"] == "empty"
    result = CliRunner().invoke(app, ["data", "prepare", "--workers", "1"])
    assert result.exit_code != 0


def _zeroed_second_half(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    data = bytearray(buf.getvalue())
    half = len(data) // 2
    data[half:-2] = bytes(len(data) - half - 2)  # the end marker survives, so it still decodes
    return bytes(data)


def _textured(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 16, width // 16, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC), np.int16)
    return np.clip(base + rng.integers(-6, 7, size=base.shape), 0, 255).astype(np.uint8)


def test_zeroed_second_half_is_quarantined_but_dark_skies_and_black_bars_are_kept(tmp_path: Path):
    bad = tmp_path / "zeroed.jpg"
    bad.write_bytes(_zeroed_second_half(Image.fromarray(_textured(640, 480, 1))))
    Image.open(bad).load()  # the decoder itself does not complain
    result = check_image("zeroed.jpg", str(bad))
    assert result.reason == "truncated_or_blank_region" and "bottom" in result.detail

    night = _textured(640, 480, 2)
    night[:240] = (8, 12, 40)  # a flat dark sky over the top half
    dusk = _textured(640, 480, 3)
    dusk[:300] = (90, 110, 150)  # a flat blank sky, mid-tone
    bars = _textured(640, 480, 4)
    bars[:80] = 0
    bars[-80:] = 0  # letterbox bars
    for name, pixels in (("night", night), ("dusk", dusk), ("bars", bars)):
        path = tmp_path / f"{name}.jpg"
        Image.fromarray(pixels).save(path, "JPEG", quality=90)
        assert check_image(name, str(path)).ok, name


def test_same_photo_under_two_labels_is_listed_pair_by_pair(tmp_path: Path, save_image):
    root = _dataset(tmp_path / "src", save_image)
    top = root / "butterflies-100" / "train"
    (top / "ADMIRAL" / "twin.jpg").write_bytes((top / "MONARCH" / "0.jpg").read_bytes())
    collect(root)
    summary = prepare(config=CFG)
    reasons = _reasons()
    a, m = "butterflies-100/train/ADMIRAL/twin.jpg", "butterflies-100/train/MONARCH/0.jpg"
    assert reasons[a] == reasons[m] == "conflicting_labels"
    assert {(c["key"], c["label"]) for c in summary["conflicting_labels"]} == {(a, "ADMIRAL"), (m, "MONARCH")}
    report = (paths.interim_dir() / "report.md").read_text()
    section = report.split("## Same photo under different labels", 1)[1].split("##", 1)[0]
    assert f"| `{a}` | ADMIRAL | {m} (MONARCH) |" in section
