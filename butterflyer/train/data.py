"""Where training images come from, and how they are transformed.

``--input`` is either a records folder (``manifest.json`` from ``butterflyer data
build-records``, read with :class:`butterflyer.data.reader.RecordsDataset`) or a
plain image folder ``<root>/<split>/<label>/*.jpg`` (handy for quick experiments
and tests). Both give ``(image, label, index)`` samples; ``index`` lets the loop
check that every example is seen once per epoch, also across DDP ranks.

Transforms are built from the model's :class:`DataConfig`, so training,
evaluation and serving preprocess identically.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info
from torchvision.transforms import v2

from butterflyer.data.images import decode_image
from butterflyer.errors import DataError, ImageError
from butterflyer.fileio import is_remote
from butterflyer.models.meta import DataConfig

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
SPLIT_ALIASES = {"val": ("val", "valid", "validation"), "train": ("train",), "test": ("test",)}
Transform = Callable[[torch.Tensor], torch.Tensor]


def _interp(name: str) -> v2.InterpolationMode:
    return v2.InterpolationMode.BICUBIC if name == "bicubic" else v2.InterpolationMode.BILINEAR


def eval_transform(dc: DataConfig) -> Transform:
    """Resize the shorter side to ``resize_size``, centre-crop ``input_size``, normalise (uint8 CHW in)."""
    return v2.Compose(
        [
            v2.Resize(dc.resize_size, interpolation=_interp(dc.interpolation), antialias=True),
            v2.CenterCrop(dc.input_size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(dc.mean), list(dc.std)),
        ]
    )


def train_transform(dc: DataConfig, augment: str = "trivial") -> Transform:
    """RandomResizedCrop + flip (+ TrivialAugment or RandAugment), then normalise."""
    steps: list[Any] = [
        v2.RandomResizedCrop(
            dc.input_size, scale=(0.35, 1.0), interpolation=_interp(dc.interpolation), antialias=True
        ),
        v2.RandomHorizontalFlip(),
    ]
    if augment == "trivial":
        steps.append(v2.TrivialAugmentWide())
    elif augment == "randaugment":
        steps.append(v2.RandAugment())
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(dc.mean), list(dc.std))]
    return v2.Compose(steps)


def pil_to_uint8(img: Any) -> torch.Tensor:
    """An RGB PIL image as a uint8 ``(3, H, W)`` tensor."""
    return v2.functional.pil_to_tensor(img)


def decode_to_tensor(data: bytes) -> torch.Tensor:
    """JPEG/PNG bytes to a uint8 ``(3, H, W)`` tensor through the project's safe decoder."""
    return pil_to_uint8(decode_image(data))


def is_records(uri: str) -> bool:
    """True when ``uri`` holds a records manifest (complete, partial or unreadable).

    An unreadable manifest still marks a records folder, so reading it raises a
    :class:`DataError` that says how to rebuild it instead of passing as an image folder.
    """
    from butterflyer.data.manifest import has_manifest

    return has_manifest(uri)


def _split_dir(root: Path, split: str) -> Path:
    for name in SPLIT_ALIASES.get(split, (split,)):
        if (root / name).is_dir():
            return root / name
    raise DataError(
        f"{root} has no '{split}' folder; expected {root}/{split}/<label>/<image>.jpg "
        "or a records folder with manifest.json"
    )


def _check_input(uri: str) -> None:
    if is_records(uri):
        return
    if is_remote(uri) or not Path(uri).is_dir():
        raise DataError(
            f"{uri} is neither a records folder (no manifest.json) nor an image folder. "
            "Build records with 'butterflyer data build-records' and pass their folder as --input."
        )


def read_labels(uri: str) -> list[str]:
    """Class names in label-index order."""
    _check_input(uri)
    if is_records(uri):
        from butterflyer.data.reader import read_labels as read_record_labels

        return list(read_record_labels(uri))
    root = Path(uri)
    labels = sorted(p.name for p in _split_dir(root, "train").iterdir() if p.is_dir())
    if not labels:
        raise DataError(f"{root}/train has no label folders")
    return labels


def data_sha256(uri: str) -> str:
    """Lineage id of the input: the records manifest sha256, or a hash of an image folder's listing."""
    _check_input(uri)
    if is_records(uri):
        from butterflyer.data.manifest import manifest_sha256

        return manifest_sha256(uri)
    digest = hashlib.sha256()
    root = Path(uri)
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            digest.update(f"{path.relative_to(root)}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> list[int]:
    """The global example order of one epoch: a permutation seeded by (seed, epoch)."""
    order = list(range(n))
    if shuffle:
        random.Random(seed * 100_003 + epoch).shuffle(order)
    return order


def shard(order: list[int], rank: int, world: int) -> list[int]:
    """Rank ``rank``'s share of ``order``: every example goes to exactly one rank, none is repeated."""
    return order[rank::world]


class FolderSplit(Dataset):
    """One split of an image folder, map-style; yields ``(transform(image), label, index)``."""

    def __init__(
        self, uri: str, split: str, transform: Transform | None = None, labels: list[str] | None = None
    ) -> None:
        root = Path(uri)
        self.labels = labels or read_labels(uri)
        index = {name: i for i, name in enumerate(self.labels)}
        folder = _split_dir(root, split)
        self.items: list[tuple[Path, int]] = []
        for label_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if label_dir.name not in index:
                raise DataError(f"{label_dir} is a label the train split does not have")
            self.items += [
                (p, index[label_dir.name])
                for p in sorted(label_dir.iterdir())
                if p.suffix.lower() in IMAGE_SUFFIXES
            ]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        path, label = self.items[i]
        try:
            image = decode_to_tensor(path.read_bytes())
        except ImageError as exc:
            raise DataError(
                f"{path}: {exc} (reason {exc.reason}); run 'butterflyer data prepare' to "
                "quarantine bad images"
            ) from exc
        return (self.transform(image) if self.transform else image), label, i


class ShardedEpoch(IterableDataset):
    """A map-style split walked in one epoch's seeded order, this rank's share only.

    DataLoader workers split the share further, so each example is read once.
    """

    def __init__(self, base: Dataset, seed: int, shuffle: bool, rank: int = 0, world: int = 1) -> None:
        self.base, self.seed, self.shuffle, self.rank, self.world = base, seed, shuffle, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> list[int]:
        return shard(
            epoch_order(len(self.base), self.seed, self.epoch, self.shuffle),  # type: ignore[arg-type]
            self.rank,
            self.world,
        )

    def __len__(self) -> int:
        return len(self.indices())

    def __iter__(self) -> Iterator[Any]:
        mine = self.indices()
        info = get_worker_info()
        if info is not None:
            mine = mine[info.id :: info.num_workers]
        for i in mine:
            yield self.base[i]


class RecordsSplit(IterableDataset):
    """Adapter over the data engineer's ``RecordsDataset``: ``(image, label, -1)``.

    ``RecordsDataset`` splits the records among DDP ranks and DataLoader workers
    itself (each example once per epoch); records carry no global index, so the
    index slot is ``-1`` and the loop skips its own coverage count.
    """

    def __init__(
        self,
        uri: str,
        split: str,
        transform: Transform | None,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world: int = 1,
        decode: bool = True,
    ) -> None:
        from butterflyer.data.reader import RecordsDataset

        self.inner = RecordsDataset(
            uri, split, transform=None, shuffle=shuffle, seed=seed, decode=decode, rank=rank, world_size=world
        )
        self.transform, self.decode = transform, decode

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[Any]:
        for image, label in self.inner:
            if self.decode:
                image = pil_to_uint8(image) if hasattr(image, "mode") else image
                if self.transform is not None:
                    image = self.transform(image)
            yield image, int(label), -1


def open_split(
    uri: str,
    split: str,
    transform: Transform | None,
    shuffle: bool = False,
    seed: int = 0,
    rank: int = 0,
    world: int = 1,
    labels: list[str] | None = None,
) -> IterableDataset:
    """One split as an iterable of ``(image, label, index)`` with ``set_epoch``; rank's share only."""
    _check_input(uri)
    if is_records(uri):
        return RecordsSplit(uri, split, transform, shuffle, seed, rank, world)
    return ShardedEpoch(FolderSplit(uri, split, transform, labels), seed, shuffle, rank, world)


def split_size(uri: str, split: str) -> int:
    """Number of examples in ``split``; a split the store lacks is a :class:`DataError`."""
    _check_input(uri)
    if is_records(uri):
        from butterflyer.data.manifest import read_manifest

        info = read_manifest(uri, check_shards=False)["splits"].get(split)  # one manifest read
        if info is None:
            raise DataError(f"split '{split}' is not in {uri}")
        return int(info.get("count") or sum(int(s.get("records", 0)) for s in info["shards"]))
    return len(FolderSplit(uri, split))


def has_split(uri: str, split: str) -> bool:
    """Whether the records or image folder at ``uri`` has ``split``; an unreadable store raises."""
    _check_input(uri)
    if is_records(uri):
        from butterflyer.data.manifest import read_manifest

        return split in read_manifest(uri, check_shards=False)["splits"]
    return any((Path(uri) / name).is_dir() for name in SPLIT_ALIASES.get(split, (split,)))


def eval_batches(
    uri: str, split: str, dc: DataConfig, flip: bool, batch_size: int, workers: int, labels: list[str]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(images, labels)`` batches of one split in record order, evaluation preprocessing (or mirrored)."""
    tf = eval_transform(dc)
    if flip:
        tf = v2.Compose([v2.RandomHorizontalFlip(p=1.0), tf])
    ds = open_split(uri, split, tf, shuffle=False, labels=labels)
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers)
    for images, ys, _ in loader:
        yield images, ys
