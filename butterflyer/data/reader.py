"""Stream records back: a PyTorch ``IterableDataset`` over the shards of one split.

Usage::

    ds = RecordsDataset(uri, "train", transform=train_tf, shuffle=True, seed=0)
    loader = DataLoader(ds, batch_size=64, num_workers=2)
    for epoch in range(epochs):
        ds.set_epoch(epoch)          # new shard order and buffer shuffle every epoch
        for images, labels in loader: ...

Every example is seen exactly once per epoch across all DataLoader workers and
DDP ranks. The split is cut among ranks first, then among each rank's
workers. A level whose shard count divides evenly hands out whole shards (the
cheap path: build records with ``shard_multiple`` = ranks x workers); otherwise
its consumers walk the same shards in the epoch's order and keep every n-th
record, seeking past the rest. A rank's share does not depend on its number of
workers, so ``len(ds)`` is exact and the same every epoch. With whole shards per
rank, ranks may differ by up to one shard's rounding (a few records); DDP loops
should stop at the smallest rank's step count (or use ``Join``).

Call ``set_epoch`` before creating the epoch's iterator; with
``persistent_workers=True`` the workers keep the epoch they started with.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import torch
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from butterflyer.data.images import to_rgb
from butterflyer.data.manifest import join, read_manifest, split_shards
from butterflyer.data.tfrecord import decode_example, iter_frames
from butterflyer.errors import ConfigError

__all__ = ["RecordsDataset", "iter_examples", "read_labels"]


def read_labels(uri: str) -> list[str]:
    """The label map of a records folder (index = class id)."""
    return list(read_manifest(str(uri), check_shards=False)["labels"])


def _first(values: list[Any], default: Any = None) -> Any:
    return values[0] if values else default


def _raw_fields(example: dict[str, list[Any]]) -> dict[str, Any]:
    """Flatten a parsed Example into plain Python values."""
    text = _first(example.get("image/class/text", []), b"")
    sha = _first(example.get("image/sha256", []), b"")
    name = _first(example.get("image/filename", []), b"")
    return {
        "encoded": _first(example.get("image/encoded", []), b""),
        "label": int(_first(example.get("image/class/label", []), -1)),
        "text": text.decode("utf-8"),
        "height": int(_first(example.get("image/height", []), 0)),
        "width": int(_first(example.get("image/width", []), 0)),
        "sha256": sha.decode("ascii"),
        "filename": name.decode("utf-8"),
    }


def _iter_shard(uri: str, name: str, keep: Iterator[bool] | None = None) -> Iterator[dict[str, Any]]:
    path = join(uri, name)
    with fsspec.open(path, "rb") as fh:
        for payload in iter_frames(fh, where=path, keep=keep):
            yield _raw_fields(decode_example(payload))


def iter_examples(uri: str, split: str) -> Iterator[dict[str, Any]]:
    """Every example of ``split`` in shard order, as a dict of raw fields
    (``encoded`` JPEG bytes, ``label``, ``text``, ``height``, ``width``, ``sha256``, ``filename``)."""
    uri = str(uri)
    manifest = read_manifest(uri)
    for shard in split_shards(manifest, split):
        yield from _iter_shard(uri, shard["name"])


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class RecordsDataset(IterableDataset):
    """Decoded (and transformed) images with integer labels from one split of a records folder.

    Yields ``(transform(pil_rgb) or pil_rgb, label)``; with ``decode=False`` yields
    ``(uint8 tensor of the JPEG bytes, label)`` for decoding on the GPU
    (``torchvision.io.decode_jpeg``). ``rank``/``world_size`` default to the
    initialised ``torch.distributed`` group (else 0 and 1).
    """

    def __init__(
        self,
        uri: str,
        split: str,
        transform: Callable[[Image.Image], Any] | None = None,
        shuffle: bool = False,
        seed: int = 0,
        shuffle_buffer: int = 1024,
        decode: bool = True,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        self.uri = str(uri)
        self.split = split
        self.transform = transform
        self.shuffle = shuffle
        self.seed = seed
        self.shuffle_buffer = max(1, int(shuffle_buffer))
        self.decode = decode
        manifest = read_manifest(self.uri)
        self.labels: list[str] = list(manifest["labels"])
        self.shards: list[dict[str, Any]] = split_shards(manifest, split)
        dist_rank, dist_world = _distributed()
        self.rank = dist_rank if rank is None else int(rank)
        self.world_size = dist_world if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ConfigError(f"rank {self.rank} is outside world size {self.world_size}.")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shard order and shuffle the next iteration uses."""
        self.epoch = int(epoch)

    @property
    def num_records(self) -> int:
        """Examples in the whole split (all ranks)."""
        return sum(int(s["records"]) for s in self.shards)

    def _rank_by_shard(self) -> bool:
        return len(self.shards) % self.world_size == 0

    def __len__(self) -> int:
        """Examples this rank yields per epoch (all its DataLoader workers together)."""
        if self._rank_by_shard():
            return sum(
                int(s["records"]) for i, s in enumerate(self.shards) if i % self.world_size == self.rank
            )
        total = self.num_records
        return total // self.world_size + (1 if self.rank < total % self.world_size else 0)

    def _records(self, worker: int, workers: int) -> Iterator[dict[str, Any]]:
        """This consumer's records: split first among ranks, then among the rank's workers,
        by whole shards where the counts divide evenly, else by record position."""
        order = list(range(len(self.shards)))
        if self.shuffle:
            random.Random(f"{self.seed}:{self.epoch}:shards").shuffle(order)
        rank_stride = not self._rank_by_shard()
        if not rank_stride:
            order = [i for i in order if i % self.world_size == self.rank]
        if not rank_stride and len(order) % workers == 0:
            mine = sorted(order)[worker::workers]
            for i in order:
                if i in mine:
                    yield from _iter_shard(self.uri, self.shards[i]["name"])
            return
        world, rank = (self.world_size, self.rank) if rank_stride else (1, 0)

        def keep() -> Iterator[bool]:
            position = ranked = 0
            while True:
                ours = position % world == rank
                position += 1
                if ours:
                    ranked += 1
                    yield (ranked - 1) % workers == worker
                else:
                    yield False

        selector = keep()
        for i in order:
            yield from _iter_shard(self.uri, self.shards[i]["name"], keep=selector)

    def _buffered(self, records: Iterator[dict[str, Any]], consumer: int) -> Iterator[dict[str, Any]]:
        if not self.shuffle or self.shuffle_buffer <= 1:
            yield from records
            return
        rng = random.Random(f"{self.seed}:{self.epoch}:{consumer}:buffer")
        buffer: list[dict[str, Any]] = []
        for record in records:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(record)
                continue
            j = rng.randrange(len(buffer))
            buffer[j], record = record, buffer[j]
            yield record
        rng.shuffle(buffer)
        yield from buffer

    def _output(self, record: dict[str, Any]) -> tuple[Any, int]:
        if not self.decode:
            return torch.frombuffer(bytearray(record["encoded"]), dtype=torch.uint8), record["label"]
        with Image.open(io.BytesIO(record["encoded"])) as img:
            img.load()
            image = to_rgb(img)
        return (self.transform(image) if self.transform else image), record["label"]

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        consumer = self.rank * workers + worker
        for record in self._buffered(self._records(worker, workers), consumer):
            yield self._output(record)
