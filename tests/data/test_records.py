"""build-records: round trip, manifest guard, resume, buckets, an independent reader."""

from __future__ import annotations

import io
import json
from pathlib import Path

import fsspec
import numpy as np
import pytest
from PIL import Image

from butterflyer.data.interim import read_interim
from butterflyer.data.manifest import manifest_sha256, read_manifest
from butterflyer.data.reader import RecordsDataset, iter_examples, read_labels
from butterflyer.data.records import RecordsConfig, build_records
from butterflyer.errors import DataError

CFG = RecordsConfig(workers=1)


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def test_round_trip_same_pixels_and_labels(small_interim: Path, tmp_path: Path):
    out = tmp_path / "records"
    manifest = build_records(small_interim, str(out), config=CFG)
    labels, splits = read_interim(small_interim)
    assert manifest["labels"] == labels == read_labels(str(out))
    assert {s: manifest["splits"][s]["count"] for s in splits} == {s: len(r) for s, r in splits.items()}
    by_key = {r["key"]: r for rows in splits.values() for r in rows}
    seen = 0
    for split in splits:
        for ex in iter_examples(str(out), split):
            row = by_key[ex["filename"]]
            assert ex["label"] == row["label_index"] and ex["text"] == row["label"]
            assert ex["sha256"] == row["sha256"]
            source = _pixels(Path(row["path"]).read_bytes())
            stored = _pixels(ex["encoded"])
            assert stored.shape == source.shape == (ex["height"], ex["width"], 3)
            assert np.abs(stored - source).mean() < 3
            seen += 1
    assert seen == len(by_key)


def test_large_photos_are_shrunk_never_upscaled(tmp_path: Path, interim_factory):
    interim = interim_factory(tmp_path / "src", {"train": 1}, labels=("A",), size=(800, 600))
    out = tmp_path / "r"
    build_records(interim, str(out), config=RecordsConfig(shorter_side=256, workers=1))
    (ex,) = iter_examples(str(out), "train")
    assert (ex["width"], ex["height"]) == (341, 256)
    assert Image.open(io.BytesIO(ex["encoded"])).size == (341, 256)
    small = interim_factory(tmp_path / "small", {"train": 1}, labels=("A",), size=(120, 90))
    build_records(small, str(tmp_path / "r2"), config=RecordsConfig(shorter_side=256, workers=1))
    (ex,) = iter_examples(str(tmp_path / "r2"), "train")
    assert (ex["width"], ex["height"]) == (120, 90)


def test_records_parse_with_the_independent_tfrecord_package(small_interim: Path, tmp_path: Path):
    reader = pytest.importorskip("tfrecord.reader")
    out = tmp_path / "records"
    manifest = build_records(small_interim, str(out), config=CFG)
    shard = manifest["splits"]["train"]["shards"][0]
    desc = {
        "image/encoded": "byte",
        "image/class/label": "int",
        "image/class/text": "byte",
        "image/height": "int",
        "image/width": "int",
        "image/sha256": "byte",
    }
    items = list(reader.tfrecord_loader(str(out / shard["name"]), None, desc))
    assert len(items) == shard["records"]
    first = items[0]
    img = Image.open(io.BytesIO(bytes(first["image/encoded"])))
    assert img.size == (int(first["image/width"][0]), int(first["image/height"][0]))
    assert 0 <= int(first["image/class/label"][0]) < 3


def test_shards_are_sized_named_and_hashed(small_interim: Path, tmp_path: Path):
    out = tmp_path / "records"
    cfg = RecordsConfig(workers=1, shard_mb=0.05)  # ~50 KB shards -> several per split
    manifest = build_records(small_interim, str(out), config=cfg)
    shards = manifest["splits"]["train"]["shards"]
    assert len(shards) > 1
    n = len(shards)
    assert [s["name"] for s in shards] == [f"train-{i:05d}-of-{n:05d}.tfrecord" for i in range(n)]
    assert sum(s["records"] for s in shards) == 24
    import hashlib

    for s in shards:
        assert hashlib.sha256((out / s["name"]).read_bytes()).hexdigest() == s["sha256"]


def test_rerun_does_no_work_and_lineage_is_stable(small_interim: Path, tmp_path: Path):
    out = tmp_path / "records"
    first = build_records(small_interim, str(out), config=CFG)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = build_records(small_interim, str(out), config=CFG)
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    digest = manifest_sha256(str(out))
    other = tmp_path / "records2"
    build_records(small_interim, str(other), config=CFG)
    assert manifest_sha256(str(other)) == digest
    build_records(
        small_interim, str(tmp_path / "r3"), config=RecordsConfig(workers=1, jpeg_quality=70, shorter_side=64)
    )
    assert manifest_sha256(str(tmp_path / "r3")) != digest


def test_half_written_output_is_refused_and_resumed(small_interim: Path, tmp_path: Path):
    out = tmp_path / "records"
    cfg = RecordsConfig(workers=1, shard_mb=0.05)
    full = build_records(small_interim, str(out), config=cfg)
    # Simulate a crash: manifest gone, one shard missing, progress files for the rest.
    names = [s["name"] for sp in full["splits"].values() for s in sp["shards"]]
    (out / "manifest.json").unlink()
    with pytest.raises(DataError, match="build-records"):
        read_manifest(str(out))
    with pytest.raises(DataError):
        RecordsDataset(str(out), "train")
    for name in names:  # progress files are gone after success; recreate them as a crash leaves them
        s = next(x for sp in full["splits"].values() for x in sp["shards"] if x["name"] == name)
        (out / "_progress").mkdir(exist_ok=True)
        (out / "_progress" / f"{name}.json").write_text(json.dumps(dict(s, fingerprint=full["fingerprint"])))
    (out / names[0]).unlink()
    (out / f".{names[0]}.x1y2.tmp").write_bytes(b"half a shard")  # what a killed writer leaves
    keep = {n: (out / n).stat().st_mtime_ns for n in names[1:]}
    resumed = build_records(small_interim, str(out), config=cfg)
    assert (
        resumed["timings"]["shards_written"] == 1 and resumed["timings"]["shards_resumed"] == len(names) - 1
    )
    assert {n: (out / n).stat().st_mtime_ns for n in names[1:]} == keep
    assert resumed["splits"] == full["splits"]
    assert not (out / "_progress").exists()
    assert not (out / f".{names[0]}.x1y2.tmp").exists()


def test_incomplete_or_tampered_manifest_is_refused(small_interim: Path, tmp_path: Path):
    out = tmp_path / "records"
    manifest = build_records(small_interim, str(out), config=CFG)
    shard = out / manifest["splits"]["val"]["shards"][0]["name"]
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(DataError, match="bytes"):
        read_manifest(str(out))
    (out / "manifest.json").write_text(json.dumps(dict(manifest, complete=False)))
    with pytest.raises(DataError, match="not a complete"):
        read_manifest(str(out))


def test_bucket_output_through_fsspec_memory(small_interim: Path):
    uri = "memory://bf-test/records"
    manifest = build_records(small_interim, uri, config=CFG)
    fs = fsspec.filesystem("memory")
    assert fs.exists("/bf-test/records/manifest.json")
    assert read_manifest(uri)["splits"]["test"]["count"] == manifest["splits"]["test"]["count"] == 6
    ds = RecordsDataset(uri, "test")
    got = list(ds)
    assert len(got) == len(ds) == 6
    assert all(isinstance(img, Image.Image) and img.mode == "RGB" for img, _ in got)
    fs.rm("/bf-test", recursive=True)


def test_unknown_runner_and_missing_interim_are_clear_errors(tmp_path: Path):
    from butterflyer.errors import ConfigError

    with pytest.raises(DataError, match="prepare"):
        build_records(tmp_path / "nope", str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="runner"):
        build_records(tmp_path / "nope", str(tmp_path / "out"), runner="spark")


def test_process_pool_writes_the_same_bytes_as_one_process(tmp_path: Path, interim_factory):
    interim = interim_factory(tmp_path / "src", {"train": 24}, size=(300, 200))  # 72 rows: pool is used
    one = build_records(interim, str(tmp_path / "one"), config=RecordsConfig(workers=1, shard_mb=0.2))
    two = build_records(interim, str(tmp_path / "two"), config=RecordsConfig(workers=2, shard_mb=0.2))
    assert one["splits"] == two["splits"] and len(one["splits"]["train"]["shards"]) > 1
