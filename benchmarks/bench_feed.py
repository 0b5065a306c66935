"""The records feed alone, no model: how fast batches reach the training thread.

    python benchmarks/bench_feed.py                          # synthetic 256px records made here
    python benchmarks/bench_feed.py --records R --workers 12 --batch-size 256

Three lines, each images/s delivered to the main process:

1. ``per-image tensors``: workers collate a list of one tensor per JPEG (what the
   GPU path did before); ``main ms/batch`` is the main process's cost of receiving
   one batch when the workers are ahead (measured by draining a full queue).
2. ``packed``: workers collate one flat byte tensor plus sizes (``pack_blobs``).
3. ``ready``: ``gpu_batches`` end to end, decoded and augmented on the device
   (nvJPEG on CUDA; on a CPU the decode runs on the CPU, so this line is slow there).

Compare with ``bench_train.py``'s synthetic img/s: the feed must stay above it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_records import make_records  # noqa: E402

from butterflyer.models import data_config_for  # noqa: E402
from butterflyer.train.data import RecordsSplit  # noqa: E402
from butterflyer.train.distributed import DistContext  # noqa: E402
from butterflyer.train.gpu_data import gpu_batches, pack_blobs  # noqa: E402


def per_image(items: list[Any]) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """The former collate: one tensor per JPEG."""
    labels = torch.tensor([y for _, y, _ in items])
    return [b for b, _, _ in items], labels, torch.tensor([i for *_, i in items])


def measure(loader: DataLoader, batches: int, workers: int) -> tuple[float, float]:
    """``(images/s over `batches` batches, main-process ms per batch with the queue full)``."""
    it = iter(loader)
    first = next(it)
    n0 = len(first[1])
    t0, seen = time.perf_counter(), 0
    for _ in range(batches):
        seen += len(next(it)[1])
    rate = seen / (time.perf_counter() - t0)
    if not workers:
        return rate, float("nan")
    time.sleep(max(2.0, 4 * workers * n0 / max(rate, 1.0)))  # let every worker fill its prefetch slots
    drain = min(2 * workers, 8)
    t0 = time.perf_counter()
    for _ in range(drain):
        next(it)
    return rate, (time.perf_counter() - t0) / drain * 1e3


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", default=None, help="records URI (default: synthetic records made here)")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--model", default="efficientnet_lite0", help="whose DataConfig augmentation uses")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=None, help="timed batches per line")
    parser.add_argument("--workers", type=int, default=min(12, max(1, (os.cpu_count() or 2) - 1)))
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    batches = args.batches or (30 if cuda else 6)
    uri = args.records
    if uri is None:
        uri = tempfile.mkdtemp(prefix="bench-feed-")
        n = args.images or args.batch_size * (batches + 4 * args.workers + 4)
        t = time.perf_counter()
        make_records(uri, n, 100, args.size, shards=4)
        print(f"made {n} synthetic {args.size}px records in {time.perf_counter() - t:.1f}s")
    bs, w = args.batch_size, args.workers
    print(f"batch {bs}, {w} DataLoader workers, {batches} timed batches, device {device}")

    ds = RecordsSplit(uri, "train", None, shuffle=True, seed=0, decode=False)
    for name, collate in (("per-image tensors", per_image), ("packed", pack_blobs)):
        loader = DataLoader(
            ds, batch_size=bs, num_workers=w, collate_fn=collate, prefetch_factor=4 if w else None
        )
        rate, main_ms = measure(loader, batches, w)
        print(f"  {name:18s}: {rate:9.1f} img/s   main {main_ms:7.1f} ms/batch")
        del loader

    dc = data_config_for(args.model)
    make = gpu_batches(uri, "train", dc, bs, DistContext(device=device), True, 0, workers=w, force=True)
    assert make is not None
    it = iter(make(0))
    next(it)
    t0, seen = time.perf_counter(), 0
    for _ in range(batches):
        x, y, _ = next(it)
        seen += len(y)
    if cuda:
        torch.cuda.synchronize()
    rate = seen / (time.perf_counter() - t0)
    where = "nvJPEG + GPU augmentation" if cuda else "CPU decode + augmentation"
    print(f"  {'ready (' + where + ')':18s}: {rate:9.1f} img/s")


if __name__ == "__main__":
    main(sys.argv[1:])
