"""prepare: labels, quarantine reasons, colour modes, duplicates and leak-free splits."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from butterflyer import paths
from butterflyer.data.collect import collect
from butterflyer.data.interim import read_interim
from butterflyer.data.prepare import PrepareConfig, prepare
from butterflyer.data.reader import iter_examples
from butterflyer.data.records import RecordsConfig, build_records

CFG = PrepareConfig(workers=1)


def _quarantine() -> dict[str, str]:
    with open(paths.interim_dir() / "quarantine.csv", newline="") as fh:
        return {row["key"]: row["reason"] for row in csv.DictReader(fh)}


def _all_rows() -> dict[str, dict]:
    _, splits = read_interim(paths.interim_dir())
    return {r["key"]: r for rows in splits.values() for r in rows}


@pytest.fixture
def source(tmp_path: Path, save_image) -> Path:
    """Kaggle-like: split/class folders and a CSV with 'filepaths, labels, data set'."""
    root = tmp_path / "kaggle"
    rows = [("class id", "filepaths", "labels", "data set")]
    seed = 100
    for split, n in (("train", 6), ("valid", 2), ("test", 2)):
        for c, label in enumerate(("ADONIS", "Iphiclus sister")):
            for k in range(n):
                seed += 1
                rel = f"{split}/{label}/{k}.jpg"
                save_image(root / rel, seed, size=(120, 90))
                rows.append((str(c), rel, label, split))
    with open(root / "butterflies.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return root


def _add_csv_rows(root: Path, *rows: tuple[str, str, str]) -> None:
    with open(root / "butterflies.csv", "a", newline="") as fh:
        csv.writer(fh).writerows([("0", *r) for r in rows])


def test_csv_layout_keeps_source_split_and_maps_valid_to_val(source: Path):
    collect(source)
    summary = prepare(config=CFG)
    assert summary["counts"] == {"train": 12, "val": 4, "test": 4}
    assert summary["quarantined"] == 0 and summary["layout"].startswith("csv:")
    labels, splits = read_interim(paths.interim_dir())
    assert labels == ["ADONIS", "Iphiclus sister"]
    assert {r["source_split"] for r in splits["val"]} == {"val"}
    interim = paths.interim_dir()
    for name in ("report.md", "class_distribution.png", "labels.json", "duplicates.csv", "quarantine.csv"):
        assert (interim / name).is_file()
    assert Image.open(interim / "class_distribution.png").size[0] > 100
    again = prepare(config=CFG)
    assert again["reused"] is True and again["counts"] == summary["counts"]


def test_every_bad_input_is_quarantined_with_its_reason(source: Path, save_image):
    bad = source / "train" / "ADONIS"
    good = (bad / "0.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "notes.jpg").write_bytes(b"these are field notes, not a photo")
    save_image(bad / "tiny.jpg", 1, size=(20, 20))
    save_image(bad / "huge.png", 2, size=(400, 300), format="PNG")
    garbage = bytearray(good)
    garbage[200:600] = bytes(400)  # zeroed entropy-coded data: decodes or fails, never crashes
    (bad / "stray.txt").write_text("not listed")
    _add_csv_rows(
        source,
        *[
            (f"train/ADONIS/{n}", "ADONIS", "train")
            for n in ("truncated.jpg", "empty.jpg", "notes.jpg", "tiny.jpg", "huge.png")
        ],
    )
    _add_csv_rows(source, ("train/ADONIS/missing.jpg", "ADONIS", "train"))
    collect(source)
    summary = prepare(config=PrepareConfig(workers=1, max_pixels=100_000))
    reasons = _quarantine()
    base = "train/ADONIS/"
    assert reasons[base + "truncated.jpg"] == "truncated"
    assert reasons[base + "empty.jpg"] == "empty"
    assert reasons[base + "notes.jpg"] == "not_an_image"
    assert reasons[base + "tiny.jpg"] == "too_small"
    assert reasons[base + "huge.png"] == "too_large"
    assert reasons[base + "missing.jpg"] == "missing_file"
    assert reasons[base + "stray.txt"] == "not_in_csv"
    assert summary["kept"] == 20 and summary["quarantined"] == 7
    report = (paths.interim_dir() / "report.md").read_text()
    assert "truncated.jpg" in report and "too_small" in report


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path: Path):
    from butterflyer.data.validate import check_image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 Mpx, tiny file
    result = check_image("bomb.png", str(bomb))
    assert result.reason == "too_large"


def _exif_rotated(path: Path, seed: int) -> None:
    img = Image.fromarray(np.random.default_rng(seed).integers(0, 255, (60, 100, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    img.save(path, "JPEG", exif=exif.tobytes())


def test_colour_modes_and_exif_become_upright_rgb_records(tmp_path: Path, save_image):
    root = tmp_path / "modes" / "MOTH"
    root.mkdir(parents=True)
    base = Image.open(io.BytesIO(_jpeg(save_image, tmp_path)))
    base.convert("CMYK").save(root / "cmyk.jpg", "JPEG")
    base.convert("P").save(root / "palette.png")
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(root / "alpha.png")
    Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 200).save(root / "deep.png")
    _exif_rotated(root / "rotated.jpg", 5)
    for k in range(3):
        save_image(root / f"plain{k}.jpg", 40 + k, size=(120, 90))
        save_image(root.parent / "SKIPPER" / f"plain{k}.jpg", 60 + k, size=(120, 90))  # a 2nd label
    collect(tmp_path / "modes")
    summary = prepare(config=PrepareConfig(workers=1, ratios=(1.0, 0.0, 0.0)))
    assert summary["quarantined"] == 0 and summary["kept"] == 11
    assert {"CMYK", "P", "RGBA", "I;16"} <= set(summary["source_modes"])
    rows = _all_rows()
    assert (rows["MOTH/rotated.jpg"]["width"], rows["MOTH/rotated.jpg"]["height"]) == (60, 100)
    build_records(output=str(tmp_path / "rec"), config=RecordsConfig(workers=1))
    for ex in iter_examples(str(tmp_path / "rec"), "train"):
        img = Image.open(io.BytesIO(ex["encoded"]))
        assert img.mode == "RGB" and img.format == "JPEG"
        if ex["filename"] == "MOTH/rotated.jpg":
            assert img.size == (60, 100)


def _jpeg(save_image, tmp_path: Path) -> bytes:
    return save_image(tmp_path / "base.jpg", 7, size=(120, 90)).read_bytes()


def test_recropped_copy_in_test_is_moved_to_train_and_exact_copy_dropped(source: Path):
    original = Image.open(source / "train" / "ADONIS" / "0.jpg")
    w, h = original.size
    recrop = original.crop((3, 2, w - 2, h - 3)).resize((w, h), Image.Resampling.BICUBIC)
    recrop.save(source / "test" / "ADONIS" / "copy.jpg", "JPEG", quality=80)
    exact = (source / "train" / "Iphiclus sister" / "1.jpg").read_bytes()
    (source / "valid" / "Iphiclus sister" / "same.jpg").write_bytes(exact)
    (source / "test" / "ADONIS" / "mislabelled.jpg").write_bytes(
        (source / "train" / "ADONIS" / "2.jpg").read_bytes()
    )
    (source / "train" / "Iphiclus sister" / "twin.jpg").write_bytes(
        (source / "train" / "ADONIS" / "2.jpg").read_bytes()
    )
    _add_csv_rows(
        source,
        ("test/ADONIS/copy.jpg", "ADONIS", "test"),
        ("valid/Iphiclus sister/same.jpg", "Iphiclus sister", "valid"),
        ("test/ADONIS/mislabelled.jpg", "ADONIS", "test"),
        ("train/Iphiclus sister/twin.jpg", "Iphiclus sister", "train"),
    )
    collect(source)
    summary = prepare(config=PrepareConfig(workers=1, near_threshold=10))  # synthetic photos differ by >= 20
    rows = _all_rows()
    assert rows["test/ADONIS/copy.jpg"]["split"] == "train"
    assert rows["test/ADONIS/copy.jpg"]["group"] == rows["train/ADONIS/0.jpg"]["group"] != ""
    assert {
        "key": "test/ADONIS/copy.jpg",
        "from": "test",
        "to": "train",
        "group": rows["train/ADONIS/0.jpg"]["group"],
    } in summary["moved"]
    assert "valid/Iphiclus sister/same.jpg" not in rows and summary["exact_duplicates_dropped"] == 1
    reasons = _quarantine()
    assert reasons["test/ADONIS/mislabelled.jpg"] == reasons["train/ADONIS/2.jpg"] == "conflicting_labels"
    for group in {r["group"] for r in rows.values() if r["group"]}:
        assert len({r["split"] for r in rows.values() if r["group"] == group}) == 1
    assert "copy.jpg" in (paths.interim_dir() / "report.md").read_text()


def test_folders_without_split_get_a_seeded_stratified_group_split(tmp_path: Path, save_image):
    root = tmp_path / "flat"
    for c, label in enumerate(("A", "B", "C")):
        for k in range(20):
            save_image(root / label / f"{k}.jpg", 1000 * c + k, size=(64, 48))
    # A near-duplicate family: three re-crops of one photo must land in one split.
    base = Image.open(root / "A" / "0.jpg")
    for k in range(3):
        base.crop((k, k, 64 - k, 48 - k)).resize((64, 48)).save(root / "A" / f"dup{k}.jpg", quality=85)
    collect(root)
    summary = prepare(config=PrepareConfig(workers=2, keep_source_split=True, seed=1, near_threshold=12))
    assert summary["split_policy"].startswith("seeded")
    counts = summary["counts"]
    assert counts["train"] + counts["val"] + counts["test"] == 63
    for label in ("B", "C"):
        assert [summary["per_class"][s][label] for s in ("train", "val", "test")] == [16, 2, 2]
    rows = _all_rows()
    fam = [rows[f"A/dup{k}.jpg"] for k in range(3)] + [rows["A/0.jpg"]]
    assert len({r["split"] for r in fam}) == 1 and len({r["group"] for r in fam}) == 1
    first = json.loads((paths.interim_dir() / "prepare.json").read_text())["counts"]
    (paths.interim_dir() / "prepare.json").unlink()
    assert (
        prepare(config=PrepareConfig(workers=1, seed=1, near_threshold=12))["counts"] == first
    )  # same seed, same split
