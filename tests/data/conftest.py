"""Fixtures for the data stage: tiny synthetic photos and interim folders in tmp_path."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from butterflyer.data.interim import write_split_csv
from butterflyer.fileio import atomic_write_json, sha256_file


def photo(seed: int, size: tuple[int, int] = (96, 72)) -> Image.Image:
    """A distinct, photo-like RGB image: smooth random blobs (distinct perceptual hashes)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)


def save_photo(path: Path, seed: int, size: tuple[int, int] = (96, 72), **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    photo(seed, size).save(path, **({"format": "JPEG", "quality": 92} | kwargs))
    return path


def make_interim(
    root: Path,
    counts: dict[str, int],
    labels: tuple[str, ...] = ("ALPHA", "BETA", "GAMMA"),
    size: tuple[int, int] = (96, 72),
) -> Path:
    """Write images and interim CSVs directly (bypassing prepare) for records/reader tests."""
    images, interim = root / "images", root / "interim"
    seed = 0
    for split, per_class in counts.items():
        rows = []
        for index, label in enumerate(labels):
            for k in range(per_class):
                seed += 1
                name = f"{split}/{label}/{k:03d}.jpg"
                path = save_photo(images / name, seed, size)
                rows.append(
                    {
                        "key": name,
                        "path": str(path),
                        "label": label,
                        "label_index": index,
                        "split": split,
                        "sha256": sha256_file(path),
                        "bytes": path.stat().st_size,
                        "width": size[0],
                        "height": size[1],
                        "group": "",
                        "source_split": split,
                    }
                )
        write_split_csv(interim / f"{split}.csv", rows)
    atomic_write_json(interim / "labels.json", list(labels))
    return interim


@pytest.fixture
def small_interim(tmp_path: Path) -> Path:
    """3 classes; train 8, val 2, test 2 photos per class."""
    return make_interim(tmp_path / "src", {"train": 8, "val": 2, "test": 2})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def save_image():
    """``save_image(path, seed, size=(96, 72), **save_kwargs)`` writes a synthetic photo."""
    return save_photo


@pytest.fixture
def interim_factory():
    """``interim_factory(root, {"train": n, ...}, labels=..., size=...)`` -> interim folder."""
    return make_interim
