"""Fixtures for compression tests: tiny saved models and a separable synthetic task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from butterflyer.models import ModelMeta, create_model, data_config_for, save_model

LABELS = ["red", "green", "blue"]


def make_task(n_per_class: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised NCHW images whose class is the dominant colour channel (plus noise and a stripe)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in range(len(LABELS)):
        x = rng.normal(0.0, 0.35, size=(n_per_class, 3, size, size)).astype(np.float32)
        x[:, label] += 0.8
        stripe = rng.standard_normal((n_per_class, 3, 1, 1)).astype(np.float32)
        x[:, :, size // 3: size // 2, :] += 0.2 * stripe
        images.append(x)
        labels.append(np.full(n_per_class, label, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def tiny_meta(arch: str = "tiny") -> ModelMeta:
    return ModelMeta(architecture=arch, labels=list(LABELS), data_config=data_config_for(arch))


def train_tiny(model: nn.Module, images: np.ndarray, labels: np.ndarray, epochs: int = 8) -> nn.Module:
    """A few epochs of plain SGD so the tiny model is accurate on the task."""
    torch.manual_seed(0)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


@pytest.fixture(autouse=True)
def one_thread() -> None:
    """Tests run side by side on few shared cores: one intra-op thread avoids oversubscription."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def task() -> tuple[np.ndarray, np.ndarray]:
    return make_task(40)


@pytest.fixture(scope="session")
def trained_tiny_state(task: tuple[np.ndarray, np.ndarray]) -> dict[str, torch.Tensor]:
    """Weights of a tiny model (with a 10-way 'ImageNet' head) trained once per session."""
    torch.manual_seed(0)
    model = create_model("tiny", len(LABELS), pretrained=False)
    model.imagenet_head = nn.Linear(model.num_features, 10).requires_grad_(False)
    train_tiny(model, *task)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture()
def tiny_dir(tmp_path: Path, trained_tiny_state: dict[str, torch.Tensor]) -> Path:
    """A saved, trained tiny model with an ImageNet-style head."""
    model = create_model("tiny", len(LABELS), pretrained=False)
    model.imagenet_head = nn.Linear(model.num_features, 10).requires_grad_(False)
    model.load_state_dict(trained_tiny_state)
    return save_model(model.eval(), tmp_path / "tiny", tiny_meta())


def make_records(root: Path, counts: dict[str, int], size: int = 40, seed: int = 0) -> str:
    """A records folder whose 3 classes are red-, green- and blue-dominant JPEG photos."""
    from PIL import Image

    from butterflyer.data.interim import write_split_csv
    from butterflyer.data.records import RecordsConfig, build_records
    from butterflyer.fileio import atomic_write_json, sha256_file

    rng = np.random.default_rng(seed)
    interim = root / "interim"
    for split, per_class in counts.items():
        rows = []
        for index, label in enumerate(LABELS):
            for k in range(per_class):
                pixels = rng.integers(0, 120, size=(size, size, 3))
                pixels[..., index] += 110
                path = root / "images" / split / label / f"{k:03d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels.astype(np.uint8), "RGB").save(path, quality=92)
                rows.append({"key": f"{split}/{label}/{k:03d}.jpg", "path": str(path), "label": label,
                             "label_index": index, "split": split, "sha256": sha256_file(path),
                             "bytes": path.stat().st_size, "width": size, "height": size, "group": "",
                             "source_split": split})
        write_split_csv(interim / f"{split}.csv", rows)
    atomic_write_json(interim / "labels.json", list(LABELS))
    out = root / "records"
    build_records(interim, str(out), config=RecordsConfig(workers=1))
    return str(out)


@pytest.fixture(scope="session")
def records_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Synthetic records: train 24, val 8, test 8 images per class."""
    return make_records(tmp_path_factory.mktemp("records"), {"train": 24, "val": 8, "test": 8})
