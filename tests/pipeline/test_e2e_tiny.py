"""The real stages end to end through kfp.local on tiny synthetic photos (collect -> deploy)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

COLOURS = {"ALPHA": (220, 40, 40), "BETA": (40, 200, 60), "GAMMA": (40, 60, 220)}


def make_source(root: Path) -> Path:
    """Kaggle-like layout: split/LABEL/NNN.jpg; smooth random blobs tinted by class (learnable, no dups)."""
    seed = 0
    for split, per_class in (("train", 12), ("valid", 4), ("test", 4)):
        for label, colour in COLOURS.items():
            for k in range(per_class):
                seed += 1
                blobs = np.random.default_rng(seed).integers(0, 256, size=(6, 8, 3)).astype(np.float32)
                pixels = (0.35 * blobs + 0.65 * np.asarray(colour, np.float32)).clip(0, 255).astype(np.uint8)
                path = root / split / label / f"{k:03d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                image = Image.fromarray(pixels, "RGB").resize((96, 72), Image.Resampling.BICUBIC)
                image.save(path, quality=92)
    return root


PARAMS = {"model": "tiny", "epochs": 2, "train_profile": "full",
          "train_config": {"batch_size": 8, "tracker": "none", "head_epochs": 1},
          "compress": True,
          "compress_config": {"target": 0.7, "batch_size": 4, "finetune_steps": 2, "train_per_class": 4,
                              "train_resolution": 32, "calibration_images": 8, "latency_repeats": 5,
                              "quantize_teacher": False}}


@pytest.mark.slow
def test_tiny_pipeline_end_to_end_then_rerun_skips(mlflow_store, tmp_path):
    from butterflyer.paths import home
    from butterflyer.pipeline.local import run_local
    from butterflyer.registry import CHAMPION, store
    from butterflyer.registry.resolve import resolve_model_uri

    params = {"source": str(make_source(tmp_path / "photos")), **PARAMS}
    first = run_local(params)
    assert first.champion is not None, first.candidate
    tags = first.champion["tags"]
    assert tags["promotion.decision"] == "promoted"
    assert "model.onnx" in tags["formats"]  # the compress step's ONNX pick is what ships
    assert tags["data_manifest_sha256"] not in ("", "unknown")
    assert 0.0 <= first.champion["metrics"]["test_top1"] <= 1.0
    versions = store.list_versions()
    assert len(versions) == 2  # the teacher and the shipped model, both with lineage
    teacher = next(v for v in versions if "model.safetensors" in v.tags["formats"])
    assert teacher.tags["data_manifest_sha256"] == tags["data_manifest_sha256"]
    assert "test_top1" in teacher.metrics
    served = resolve_model_uri("models:/butterflyer@champion")
    assert (served / "model.onnx").is_file()
    deployed = json.loads((home() / "pipeline" / "deployed.json").read_text())
    assert deployed["version"] == store.alias_version(CHAMPION).version

    model_dir = Path(teacher.tags["source_dir"])
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    second = run_local(params)
    rerun_seconds = time.perf_counter() - started
    assert second.champion["version"] == first.champion["version"]
    assert len(store.list_versions()) == 2
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before  # not retrained
    assert rerun_seconds < first.seconds
