"""Every bucket path of the project against a real GCS API (the emulator in conftest.py):
collect from a bucket, records written to and read from a bucket, training on them,
serving a model folder kept in a bucket, and the pipeline's step functions with records there."""

from __future__ import annotations

import io
from pathlib import Path

import fsspec
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from butterflyer.cli.main import app
from butterflyer.data.manifest import read_manifest
from butterflyer.data.reader import RecordsDataset

COLOURS = {"ALPHA": (220, 40, 40), "BETA": (40, 200, 60), "GAMMA": (40, 60, 220)}


def _photo(seed: int, colour: tuple[int, int, int]) -> bytes:
    blobs = np.random.default_rng(seed).integers(0, 256, size=(6, 8, 3)).astype(np.float32)
    pixels = (0.35 * blobs + 0.65 * np.asarray(colour, np.float32)).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").resize((64, 48), Image.Resampling.BICUBIC).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _upload_photos(uri: str, per_class: int = 8) -> int:
    """Kaggle-like ``LABEL/NNN.jpg`` photos straight into the bucket; returns how many."""
    fs = fsspec.filesystem("gs")
    seed = 0
    for label, colour in COLOURS.items():
        for k in range(per_class):
            seed += 1
            fs.pipe(f"{uri}/{label}/{k:03d}.jpg", _photo(seed, colour))
    return seed


def _ok(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
    return result.output


@pytest.fixture
def records_in_bucket(bucket: str) -> str:
    """collect (from the bucket) -> prepare -> build-records --output gs://: the records' URI."""
    n = _upload_photos(f"{bucket}/photos")
    assert f"{n} files" in _ok(["data", "collect", f"{bucket}/photos"])
    _ok(["data", "prepare", "--split", "random", "--ratios", "0.6,0.2,0.2", "--workers", "1"])
    records = f"{bucket}/records"
    _ok(["data", "build-records", "--output", records, "--workers", "1", "--shard-mb", "0.02"])
    return records


def test_collect_from_a_bucket_copies_every_photo(bucket: str) -> None:
    n = _upload_photos(f"{bucket}/photos", per_class=3)
    assert f"{n} files" in _ok(["data", "collect", f"{bucket}/photos"])
    assert "unchanged" in _ok(["data", "collect", f"{bucket}/photos"]).lower()


def test_records_in_a_bucket_are_complete_and_readable(records_in_bucket: str) -> None:
    fs = fsspec.filesystem("gs")
    manifest = read_manifest(records_in_bucket)  # checks every shard's size in the bucket
    counts = {s: v["count"] for s, v in manifest["splits"].items()}
    assert sum(counts.values()) == 24 and counts["train"] > 0
    shards = [s["name"] for s in manifest["splits"]["train"]["shards"]]
    assert len(shards) > 1 and all(fs.exists(f"{records_in_bucket}/{name}") for name in shards)
    assert not [p for p in fs.find(records_in_bucket) if p.endswith(".tmp")]  # nothing half-written
    got = list(RecordsDataset(records_in_bucket, "train", shuffle=True, seed=1))
    assert len(got) == counts["train"] and {label for _, label in got} <= {0, 1, 2}


@pytest.mark.slow  # ~20 s on two busy cores: the train CLI also evaluates and plots
def test_train_from_bucket_records_then_serve_the_model_from_a_bucket(
    records_in_bucket: str, bucket: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    _ok(["train", "--input", records_in_bucket, "--output", str(out), "--model", "tiny",
         "--profile", "full", "--epochs", "1", "--head-epochs", "1", "--batch-size", "8",
         "--tracker", "none"])
    model_dir = out / "model"
    assert (model_dir / "meta.json").is_file()
    fs = fsspec.filesystem("gs")
    for path in model_dir.iterdir():
        if path.is_file():
            fs.put_file(str(path), f"{bucket}/models/tiny/{path.name}")

    from butterflyer.serve.app import create_app
    from butterflyer.serve.settings import ServeSettings

    settings = ServeSettings(model_uri=f"{bucket}/models/tiny", refresh_seconds=0, chat=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        upload = ("a.jpg", _photo(99, COLOURS["BETA"]), "image/jpeg")
        res = client.post("/v1/identify", files={"image": upload})
        assert res.status_code == 200, res.text
        assert {guess["id"] for guess in res.json()["top_k"]} <= set(COLOURS)


def test_pipeline_steps_with_records_in_a_bucket(bucket: str) -> None:
    """build_records -> train -> evaluate as the pipeline calls them, records in the bucket."""
    from butterflyer.pipeline import steps

    n = _upload_photos(f"{bucket}/photos", per_class=6)
    raw = steps.collect(f"{bucket}/photos")
    interim = steps.prepare(raw.uri, {"keep_source_split": False, "ratios": [0.6, 0.2, 0.2], "workers": 1})
    built = steps.build_records(interim.uri, output=f"{bucket}/records")
    assert built.uri == f"{bucket}/records" and sum(built.counts.values()) == n
    trained = steps.train(built.uri, built.manifest_sha256, "tiny", 1, "full", 0,
                          {"batch_size": 8, "tracker": "none", "head_epochs": 1})
    assert Path(trained.uri, "meta.json").is_file()
    evaluated = steps.evaluate(trained.uri, built.uri, built.manifest_sha256)
    assert 0.0 <= evaluated.metrics["test_top1"] <= 1.0


@pytest.mark.slow
def test_pipeline_run_with_source_and_records_in_a_bucket(bucket: str, mlflow_store: str) -> None:
    """The whole DAG through kfp.local (every task its own process): photos and records in the bucket."""
    from butterflyer.pipeline.local import run_local

    _upload_photos(f"{bucket}/photos", per_class=8)
    params = {"source": f"{bucket}/photos", "records_output": f"{bucket}/records",
              "prepare_config": {"keep_source_split": False, "ratios": [0.6, 0.2, 0.2]},
              "model": "tiny", "epochs": 1, "train_profile": "full",
              "train_config": {"batch_size": 8, "tracker": "none", "head_epochs": 1}, "compress": False}
    run = run_local(params, verbose=False)
    assert run.champion is not None, run.candidate
    assert read_manifest(f"{bucket}/records")["complete"]
    assert run.champion["tags"]["data_manifest_sha256"] not in ("", "unknown")
