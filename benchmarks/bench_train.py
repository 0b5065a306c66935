"""Training throughput: records-fed loop vs in-memory synthetic tensors, same model, same run.

    python benchmarks/bench_train.py                      # CPU: tiny model, synthetic records made here
    python benchmarks/bench_train.py --model efficientnet_lite0 --batch-size 256 --steps 40 --compile
    python benchmarks/bench_train.py --records .butterflyer/records

Prints images/s for both feeds and their ratio (records / synthetic). On CUDA the
records feed decodes JPEGs on the GPU and augments whole batches there
(``butterflyer.train.gpu_data``); on CPU it uses DataLoader workers. Timings on a
shared machine are noisy: compare the ratio, measured side by side.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_records import make_records  # noqa: E402

from butterflyer.models import create_model, data_config_for  # noqa: E402
from butterflyer.train.data import open_split, read_labels, train_transform  # noqa: E402
from butterflyer.train.distributed import DistContext  # noqa: E402
from butterflyer.train.gpu_data import gpu_batches  # noqa: E402


def throughput(
    model: torch.nn.Module, batches, steps: int, warmup: int, device: torch.device, bf16: bool
) -> float:
    """Images per second of optimizer steps (forward, backward, AdamW) over ``steps`` batches."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    seen, t0 = 0, 0.0
    it = iter(batches)
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, seen = time.perf_counter(), 0
        images, labels = next(it)[:2]
        x = images.to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="default: efficientnet_lite0 on CUDA, tiny on CPU")
    parser.add_argument("--records", default=None, help="records URI (default: synthetic records made here)")
    parser.add_argument("--images", type=int, default=None, help="synthetic records size")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--workers", type=int, default=min(8, max(1, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    name = args.model or ("efficientnet_lite0" if cuda else "tiny")
    bs = args.batch_size or (256 if cuda else 32)
    steps = args.steps or (40 if cuda else 15)
    warmup = args.warmup if args.warmup is not None else (10 if cuda else 3)
    dc = data_config_for(name)
    tmp = None
    uri = args.records
    if uri is None:
        tmp = tempfile.mkdtemp(prefix="bench-records-")
        n = args.images or bs * (steps + warmup + 2)
        t = time.perf_counter()
        uri = make_records(tmp, n, 100, max(dc.resize_size, 64), shards=8)
        print(f"made {n} synthetic {max(dc.resize_size, 64)}px records in {time.perf_counter() - t:.1f}s")
    labels = read_labels(uri)
    torch.manual_seed(0)
    model = create_model(name, len(labels), pretrained=False).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if args.compile else model

    synthetic = itertools.repeat(
        (
            torch.randn(bs, 3, dc.input_size, dc.input_size, device=device),
            torch.randint(0, len(labels), (bs,), device=device),
        )
    )
    if cuda:
        source = gpu_batches(
            uri, "train", dc, bs, DistContext(device=device), train=True, seed=0, workers=args.workers
        )
        feed_name = "records (GPU decode + batched GPU augmentation)"
        records_iter = itertools.chain.from_iterable(source(e) for e in itertools.count())
    else:
        ds = open_split(uri, "train", train_transform(dc, "trivial"), shuffle=True, labels=labels)
        feed_name = f"records ({args.workers} DataLoader workers, CPU decode + TrivialAugment)"

        def epochs():
            for e in itertools.count():
                ds.set_epoch(e)
                yield from DataLoader(ds, batch_size=bs, num_workers=args.workers)

        records_iter = epochs()

    bf16 = cuda
    syn = throughput(net, synthetic, steps, warmup, device, bf16)
    rec = throughput(net, records_iter, steps, warmup, device, bf16)
    dev = torch.cuda.get_device_name() if cuda else f"CPU x{torch.get_num_threads()} threads"
    print(
        f"model {name}, batch {bs}, {steps} timed steps after {warmup} warm-up, {dev}, compile={args.compile}"
    )
    print(f"  synthetic in-memory tensors : {syn:9.1f} img/s")
    print(f"  {feed_name:28s}: {rec:9.1f} img/s")
    print(f"  ratio records / synthetic   : {rec / syn:9.3f}")
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
