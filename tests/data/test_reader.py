"""RecordsDataset: exactly once per epoch across ranks and workers, shuffling, raw bytes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from butterflyer.data.reader import RecordsDataset, iter_examples
from butterflyer.data.records import RecordsConfig, build_records


def _ids(ds: RecordsDataset, workers: int) -> list[int]:
    """Read one epoch through a real DataLoader; identify each image by a pixel checksum."""
    loader = DataLoader(ds, batch_size=None, num_workers=workers)
    return [int(img.sum()) for img, _ in loader]


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, str]:
    """Two record folders of the same 42 train photos: 1 shard (odd) and 4 shards (even)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("data_conftest", Path(__file__).with_name("conftest.py"))
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    root = tmp_path_factory.mktemp("reader")
    interim = conftest.make_interim(root / "src", {"train": 14}, size=(40, 36))
    out = {}
    for name, cfg in {
        "one": RecordsConfig(workers=1),
        "four": RecordsConfig(workers=1, shard_multiple=4),
    }.items():
        build_records(interim, str(root / name), config=cfg)
        out[name] = str(root / name)
    return out


def _tensor(img) -> torch.Tensor:
    import numpy as np

    return torch.from_numpy(np.asarray(img, dtype=np.int64))


@pytest.mark.parametrize("layout", ["one", "four"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_exactly_once_over_two_ranks_and_two_workers(records, layout, shuffle):
    everything = Counter(int(_tensor(img).sum()) for img, _ in RecordsDataset(records[layout], "train"))
    assert sum(everything.values()) == 42 and len(everything) == 42  # all distinct photos
    seen: Counter[int] = Counter()
    for rank in range(2):
        ds = RecordsDataset(
            records[layout],
            "train",
            transform=_tensor,
            shuffle=shuffle,
            seed=3,
            shuffle_buffer=8,
            rank=rank,
            world_size=2,
        )
        ds.set_epoch(1)
        got = _ids(ds, workers=2)
        assert len(got) == len(ds)
        assert abs(len(ds) - 21) <= (0 if layout == "one" else 2)  # by shard: within a shard's rounding
        seen.update(got)
    assert seen == everything


def test_shuffle_changes_with_epoch_and_is_reproducible(records):
    ds = RecordsDataset(records["four"], "train", transform=_tensor, shuffle=True, seed=5, shuffle_buffer=16)
    order = []
    for epoch in (0, 1, 0):
        ds.set_epoch(epoch)
        order.append([int(x.sum()) for x, _ in ds])
    assert order[0] == order[2]
    assert order[0] != order[1]
    assert sorted(order[0]) == sorted(order[1])
    plain = [int(x.sum()) for x, _ in RecordsDataset(records["four"], "train", transform=_tensor)]
    assert plain != order[0] and sorted(plain) == sorted(order[0])


def test_decode_false_yields_jpeg_bytes(records):
    ds = RecordsDataset(records["one"], "train", decode=False)
    data, label = next(iter(ds))
    assert data.dtype == torch.uint8 and data.dim() == 1
    assert bytes(data[:3].tolist()) == b"\xff\xd8\xff"
    assert isinstance(label, int)
    first = next(iter_examples(records["one"], "train"))
    assert bytes(data.numpy().tobytes()) == first["encoded"]
    from torchvision.io import decode_jpeg

    assert decode_jpeg(data).shape[0] == 3


def test_unknown_split_names_the_ones_present(records):
    from butterflyer.errors import DataError

    with pytest.raises(DataError, match="train"):
        RecordsDataset(records["one"], "val")


def test_record_striding_over_a_bucket(records):
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in Path(records["one"]).iterdir():
        fs.pipe(f"/stride/{path.name}", path.read_bytes())
    everything = sorted(int(_tensor(x).sum()) for x, _ in RecordsDataset(records["one"], "train"))
    parts = []
    for rank in range(3):  # 1 shard, 3 ranks: every rank walks it and seeks past the others' records
        ds = RecordsDataset("memory://stride", "train", transform=_tensor, rank=rank, world_size=3)
        parts.append([int(x.sum()) for x, _ in ds])
        assert len(parts[-1]) == len(ds) == 14
    assert sorted(sum(parts, [])) == everything
    fs.rm("/stride", recursive=True)
