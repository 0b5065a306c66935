"""Benchmark the records encoder against a naive Pillow loop, and time the real dataset run.

    .venv/bin/python benchmarks/bench_records.py [--count 100] [--skip-dataset]

1. Makes ``--count`` camera-size photos (4000x3000 JPEG, quality 92) from sample
   images (the butterflies zip when present, else synthetic), upscaled with
   added sensor-like noise so they do not compress unrealistically well.
2. Per-core throughput, one process each, same photos, same output size:
   naive = open, full decode, resize (Lanczos) to a 256 shorter side, encode;
   ours  = ``butterflyer.data.encode.encode_image`` (JPEG draft mode first).
   Prints both and the ratio (target: at least 5x).
3. Unless ``--skip-dataset``: collect + prepare + build-records of
   ``../shared/datasets/butterflies-100.zip`` in a fresh temporary home, with
   wall time per stage and for a rerun (which must do no work).

Timings on a shared machine are noisy; the ratio is measured side by side.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from butterflyer.data.encode import RecordsConfig, encode_image, target_size

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT.parent / "shared" / "datasets" / "butterflies-100.zip"


def _samples(n: int) -> list[Image.Image]:
    if DATASET.is_file():
        with zipfile.ZipFile(DATASET) as zf:
            names = sorted(x for x in zf.namelist() if x.endswith(".jpg"))[:: max(1, 13000 // n)][:n]
            return [Image.open(io.BytesIO(zf.read(x))).convert("RGB") for x in names]
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((224, 168))
        for _ in range(n)
    ]


def make_photos(folder: Path, count: int) -> list[Path]:
    """Camera-size JPEGs (4000x3000) with per-pixel noise."""
    rng = np.random.default_rng(1)
    out = []
    for i, img in enumerate(_samples(count)):
        big = np.asarray(img.resize((4000, 3000), Image.Resampling.BILINEAR), dtype=np.int16)
        noise = rng.normal(0, 6, size=(3000, 4000, 1)).astype(np.int16)
        photo = Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8))
        path = folder / f"photo_{i:03d}.jpg"
        photo.save(path, "JPEG", quality=92)
        out.append(path)
    return out


def naive(data: bytes, shorter: int = 256) -> bytes:
    img = Image.open(io.BytesIO(data))
    img.load()
    img = img.convert("RGB")
    img = img.resize(target_size(*img.size, shorter), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def bench_encoder(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_records_") as tmp:
        t0 = time.perf_counter()
        photos = make_photos(Path(tmp), count)
        print(
            f"made {len(photos)} photos of 4000x3000 in {time.perf_counter() - t0:.1f}s "
            f"(mean {np.mean([p.stat().st_size for p in photos]) / 1e6:.1f} MB)"
        )
        blobs = [p.read_bytes() for p in photos]
        config = RecordsConfig()
        sizes = {}
        for name, fn in (("naive Pillow", naive), ("butterflyer", lambda b: encode_image(b, config)[0])):
            start = time.perf_counter()
            outs = [fn(b) for b in blobs]
            seconds = time.perf_counter() - start
            sizes[name] = (seconds, Image.open(io.BytesIO(outs[0])).size)
            print(
                f"{name:>13}: {len(blobs) / seconds:7.2f} photos/s per core "
                f"({seconds:.1f}s for {len(blobs)}, output {sizes[name][1]})"
            )
        ratio = sizes["naive Pillow"][0] / sizes["butterflyer"][0]
        print(f"speed-up: {ratio:.1f}x (target >= 5x) {'OK' if ratio >= 5 else 'BELOW TARGET'}")


def _stage(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "butterflyer"), *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def bench_dataset() -> None:
    if not DATASET.is_file():
        print(f"skipping the dataset run: {DATASET} not found")
        return
    home = Path(tempfile.mkdtemp(prefix="bench_home_"))
    env = dict(os.environ, BUTTERFLYER_HOME=str(home))
    try:
        stages = (["data", "collect", str(DATASET)], ["data", "prepare"], ["data", "build-records"])
        first = [_stage(s, env) for s in stages]
        again = [_stage(s, env) for s in stages]
        for s, a, b in zip(stages, first, again, strict=True):
            print(f"{' '.join(s[:2]):>20}: {a:6.1f}s (rerun {b:.1f}s)")
        print(f"{'all three':>20}: {sum(first):6.1f}s on {os.cpu_count()} cores (rerun {sum(again):.1f}s)")
    finally:
        for p in home.rglob("*"):
            if p.is_file():
                p.chmod(0o644)
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="camera-size photos to generate")
    parser.add_argument("--skip-dataset", action="store_true", help="do not time the butterflies-100 run")
    args = parser.parse_args()
    bench_encoder(args.count)
    if not args.skip_dataset:
        bench_dataset()
    return 0


if __name__ == "__main__":
    sys.exit(main())
