"""The batched GPU augmentation and the batch feed, run on CPU tensors."""

from __future__ import annotations

import io
import itertools
import threading

import pytest
import torch
from PIL import Image

from butterflyer.models.meta import DataConfig
from butterflyer.train.gpu_data import (
    augment_batch,
    background,
    crop_resize,
    decode_batch,
    pack_blobs,
    random_boxes,
    stack_same_size,
    unpack_blobs,
)

DC = DataConfig(input_size=32, resize_size=36, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def test_boxes_stay_inside_and_follow_scale() -> None:
    g = torch.Generator().manual_seed(0)
    boxes = random_boxes(500, 60, 80, g, scale=(0.3, 1.0))
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 80 + 1e-4).all()
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= 60 + 1e-4).all()
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (60 * 80)
    assert area.min() > 0.1 and area.max() <= 1.0 + 1e-4


def test_crop_resize_of_whole_image_is_identity_at_same_size() -> None:
    x = torch.rand(2, 3, 16, 16)
    boxes = torch.tensor([[0.0, 0.0, 16.0, 16.0]] * 2)
    assert torch.allclose(crop_resize(x, boxes, 16), x, atol=1e-5)


def test_augment_batch_shapes_determinism_and_eval_view() -> None:
    images = torch.randint(0, 256, (6, 3, 48, 40), dtype=torch.uint8)
    a = augment_batch(images, DC, torch.Generator().manual_seed(1), train=True)
    b = augment_batch(images, DC, torch.Generator().manual_seed(1), train=True)
    c = augment_batch(images, DC, torch.Generator().manual_seed(2), train=True)
    assert a.shape == (6, 3, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    ev = augment_batch(images, DC, torch.Generator().manual_seed(1), train=False)
    assert ev.shape == (6, 3, 32, 32)
    assert ev.min() >= -1.0 - 1e-5 and ev.max() <= 1.0 + 1e-5


def test_decode_batch_and_stack_on_cpu() -> None:
    blobs = []
    for side in (24, 24, 30):
        buf = io.BytesIO()
        Image.new("RGB", (side, side), (200, 10, 10)).save(buf, format="JPEG")
        blobs.append(torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8))
    images = decode_batch(blobs, torch.device("cpu"))
    assert [tuple(i.shape) for i in images] == [(3, 24, 24), (3, 24, 24), (3, 30, 30)]
    stacked = stack_same_size(images, 28)
    assert stacked.shape == (3, 3, 28, 28) and stacked.dtype == torch.uint8
    assert stacked[:, 0].float().mean() > 150


def test_pack_and_unpack_blobs_round_trip() -> None:
    items = [(torch.tensor([1, 2, 3], dtype=torch.uint8), 4, -1), (b"\x05\x06", 2, 7)]
    flat, sizes, labels, idx = pack_blobs(items)
    assert flat.dtype == torch.uint8 and flat.tolist() == [1, 2, 3, 5, 6]
    assert sizes.tolist() == [3, 2] and labels.tolist() == [4, 2] and idx.tolist() == [-1, 7]
    assert [b.tolist() for b in unpack_blobs(flat, sizes)] == [[1, 2, 3], [5, 6]]


def test_background_keeps_order_and_prepares_ahead() -> None:
    prepared: list[int] = []

    def prepare(i: int) -> tuple[int, int]:
        prepared.append(i)
        return i, i * i

    out = []
    for item in background(range(20), prepare, torch.device("cpu"), depth=2):
        out.append(item)
    assert out == [(i, i * i) for i in range(20)] and prepared == list(range(20))


def test_background_raises_the_threads_error_in_the_caller() -> None:
    def prepare(i: int) -> tuple[int, int]:
        if i == 3:
            raise ValueError("bad batch 3")
        return i, i

    got = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for item in background(range(10), prepare, torch.device("cpu")):
            got.append(item[0])
    assert got == [0, 1, 2]


def test_background_stops_its_thread_when_the_caller_leaves_early() -> None:
    before = {t.name for t in threading.enumerate()}
    gen = background(itertools.count(), lambda i: (i, i), torch.device("cpu"), depth=1)
    assert next(gen) == (0, 0)
    gen.close()  # what a `break` in the training loop does
    assert not [t for t in threading.enumerate() if t.name == "butterflyer-batches" and t.is_alive()]
    assert {t.name for t in threading.enumerate()} <= before | {"MainThread"}


def test_default_workers_leave_a_core_and_respect_the_cap() -> None:
    from butterflyer.train.gpu_data import default_workers

    assert 1 <= default_workers() <= 8
    assert default_workers(cap=1) == 1
