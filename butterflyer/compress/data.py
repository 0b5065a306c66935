"""Images for compression: decoded once from records, held as compact uint8 arrays.

Fine-tuning on 2 CPU cores cannot afford to decode JPEGs every step, so a split
(or a class-balanced subset of it) is decoded once into a uint8 ``NHWC`` array
at the size needed, then batched, augmented (random crop + flip) and normalised
on the fly. Evaluation images use the serving preprocessing
(:mod:`butterflyer.serve.preprocess`: resize the shorter side, centre-crop,
normalise from the model's :class:`DataConfig`), so reported accuracy is the
accuracy users get.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from butterflyer.data.images import to_rgb
from butterflyer.errors import DataError
from butterflyer.models.meta import DataConfig

SPLIT_ALIASES = {"valid": "val", "validation": "val"}


@dataclass
class ImageSet:
    """uint8 ``(N, H, W, 3)`` images, int64 labels (indices into the model's labels), and how to normalise."""

    images: np.ndarray
    labels: np.ndarray
    config: DataConfig

    def __len__(self) -> int:
        return len(self.labels)

    def _normalise(self, batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.config.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.config.std).view(1, 3, 1, 1)
        return ((x - mean) / std).contiguous()

    def batches(self, batch_size: int = 64) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Normalised float32 NCHW batches in order (evaluation, calibration)."""
        for start in range(0, len(self), batch_size):
            sl = slice(start, start + batch_size)
            yield self._normalise(self.images[sl]), torch.from_numpy(self.labels[sl])

    def arrays(self, batch_size: int = 64) -> Iterator[np.ndarray]:
        """Normalised NCHW numpy batches (ONNX Runtime calibration)."""
        for images, _ in self.batches(batch_size):
            yield images.numpy()

    def train_batches(self, batch_size: int, crop: int, seed: int
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One shuffled epoch with a random ``crop`` square and horizontal flips."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self))
        h, w = self.images.shape[1:3]
        if crop > min(h, w):
            raise DataError(f"crop {crop} is larger than the stored images ({h}x{w})")
        for start in range(0, len(order) - batch_size + 1, batch_size):
            idx = np.sort(order[start:start + batch_size])
            top, left = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            batch = self.images[idx, top:top + crop, left:left + crop]
            if rng.random() < 0.5:
                batch = batch[:, :, ::-1]
            yield self._normalise(np.ascontiguousarray(batch)), torch.from_numpy(self.labels[idx])


def scaled_config(config: DataConfig, input_size: int) -> DataConfig:
    """The same preprocessing at another input size (the resize keeps the crop ratio)."""
    ratio = config.resize_size / config.input_size
    return config.model_copy(update={"input_size": input_size, "resize_size": round(input_size * ratio)})


def _decode(encoded: bytes, config: DataConfig, side: int) -> np.ndarray:
    from butterflyer.serve.preprocess import resize_crop

    with Image.open(io.BytesIO(encoded)) as img:
        img.draft("RGB", (config.resize_size, config.resize_size))
        img.load()
        rgb = to_rgb(img)
    crop_config = config.model_copy(update={"input_size": side})
    return np.asarray(resize_crop(rgb, crop_config), dtype=np.uint8)


def load_split(records_uri: str, split: str, config: DataConfig, labels: list[str],
               per_class: int | None = None, limit: int | None = None, crop_side: int | None = None
               ) -> ImageSet:
    """Decode ``split`` of a records folder into an :class:`ImageSet`.

    ``per_class`` keeps at most that many images of each label (a balanced subset),
    ``limit`` at most that many in total. ``crop_side`` stores a larger centre square
    than ``config.input_size`` (room for random crops). Records labels are mapped to
    the model's labels by name; an unknown label is an error.
    """
    from butterflyer.data.reader import iter_examples

    split = SPLIT_ALIASES.get(split, split)
    index = {name: i for i, name in enumerate(labels)}
    side = crop_side or config.input_size
    counts: dict[int, int] = defaultdict(int)
    images: list[np.ndarray] = []
    ys: list[int] = []
    for record in iter_examples(str(records_uri), split):
        name = record["text"]
        if name not in index:
            raise DataError(f"records label {name!r} is not one of the model's labels; "
                            "compress a model trained on these records")
        y = index[name]
        if per_class is not None and counts[y] >= per_class:
            continue
        counts[y] += 1
        images.append(_decode(record["encoded"], config, side))
        ys.append(y)
        if limit is not None and len(ys) >= limit:
            break
    if not ys:
        raise DataError(f"split '{split}' of {records_uri} holds no images")
    return ImageSet(np.stack(images), np.asarray(ys, dtype=np.int64), config)


def load_split_arrays(records_uri: str, split: str, config: DataConfig, labels: list[str],
                      limit: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Normalised NCHW float32 batches of ``split`` and their labels (calibration)."""
    data = load_split(records_uri, split, config, labels, limit=limit)
    return list(data.arrays()), data.labels
