"""Write a small synthetic records folder (random JPEGs) in the data stage's format.

Used by the benchmarks so that nothing large has to travel to a GPU host:
``python benchmarks/synthetic_records.py OUT --images 4096 --classes 100 --size 256``.
"""

from __future__ import annotations

import argparse
import io
import sys

import numpy as np
from PIL import Image

from butterflyer.data.manifest import FORMAT, FORMAT_VERSION, write_manifest
from butterflyer.data.shards import write_shard
from butterflyer.data.tfrecord import encode_example


def _jpeg(rng: np.random.Generator, size: int, label: int) -> bytes:
    # smooth colour fields (JPEG-compressible like photos, unlike white noise)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    small[..., label % 3] = 40 + (label * 37) % 200
    img = Image.fromarray(small).resize((size, size), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_records(out: str, images: int, classes: int, size: int, shards: int = 4, seed: int = 0) -> str:
    """``images`` train examples (plus ~10% val and test), ``classes`` labels, square ``size`` JPEGs."""
    rng = np.random.default_rng(seed)
    labels = [f"CLASS {i:03d}" for i in range(classes)]
    splits: dict[str, dict] = {}
    counts = {"train": images, "val": max(classes, images // 10), "test": max(classes, images // 10)}
    for split, n in counts.items():
        n_shards = shards if split == "train" else 1
        entries = []
        for s in range(n_shards):
            rows = range(s, n, n_shards)

            def payloads(rows: range = rows, split: str = split) -> object:
                for i in rows:
                    label = i % classes
                    yield encode_example(
                        {
                            "image/encoded": _jpeg(rng, size, label),
                            "image/format": b"jpeg",
                            "image/class/label": label,
                            "image/class/text": labels[label],
                            "image/height": size,
                            "image/width": size,
                            "image/sha256": f"{split}{i:08d}".encode(),
                            "image/filename": f"{split}/{i}.jpg".encode(),
                        }
                    )

            name = f"{split}-{s:05d}-of-{n_shards:05d}.tfrecord"
            entries.append(write_shard(out, name, payloads()))
        splits[split] = {"count": sum(e["records"] for e in entries), "shards": entries}
    write_manifest(
        out,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "complete": True,
            "fingerprint": f"synthetic-{images}-{classes}-{size}-{seed}",
            "labels": labels,
            "num_classes": classes,
            "splits": splits,
            "config": {"synthetic": True},
        },
    )
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    make_records(args.out, args.images, args.classes, args.size)
    print(args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
