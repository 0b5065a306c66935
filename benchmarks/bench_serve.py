"""Load test of ``POST /v1/identify`` on loopback: req/s, p50, p99, errors.

Starts ``butterflyer serve`` in a child process for each configuration, then
drives it with ``--clients`` concurrent keep-alive clients (asyncio + httpx) for
``--seconds`` (bounded also by ``--max-requests``), all sending the same real
photo. Configurations run one after another in the same invocation so their
figures can be compared side by side; the machine is shared, so absolute numbers
are noisy.

    .venv/bin/python benchmarks/bench_serve.py        # newest model found, else pretrained lite0
    .venv/bin/python benchmarks/bench_serve.py --model PATH --clients 16 --seconds 20

Target (issue 6): >= 200 req/s with p99 <= 100 ms and no errors, with the
compressed model.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_model(explicit: str | None) -> str:
    """``--model``, else the newest model folder under home/models or home/runs, else pretrained lite0."""
    if explicit:
        return explicit
    from butterflyer import paths

    found = [p.parent for base in (paths.models_dir(), paths.runs_dir()) for p in base.rglob("meta.json")
             if (p.parent / "model.onnx").exists() or (p.parent / "model.safetensors").exists()]
    if found:
        return str(max(found, key=lambda p: p.stat().st_mtime))
    from butterflyer.models import ModelMeta, create_model, data_config_for, save_model

    folder = Path(tempfile.mkdtemp(prefix="bench-lite0-"))
    atexit.register(shutil.rmtree, folder, True)
    labels = [f"species_{i}" for i in range(100)]
    model = create_model("efficientnet_lite0", len(labels), pretrained=True).eval()
    save_model(model, folder, ModelMeta(architecture="efficientnet_lite0", version="bench", labels=labels,
                                        data_config=data_config_for("efficientnet_lite0")))
    return str(folder)


def sample_photo(path: str | None = None) -> bytes:
    """``--photo``, else a real test photo from the records when present, else a synthetic 640x480 JPEG."""
    if path:
        return Path(path).read_bytes()
    try:
        from butterflyer.data.reader import iter_examples
        from butterflyer.paths import records_dir

        if (records_dir() / "manifest.json").exists():
            return next(iter_examples(str(records_dir()), "test"))["encoded"]
    except Exception:  # the benchmark must run without the dataset
        pass
    from PIL import Image

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def start_server(model: str, port: int, threads: int, concurrency: int) -> subprocess.Popen:
    env = dict(os.environ, BUTTERFLYER_SERVE_MAX_CONCURRENCY=str(concurrency), HF_HUB_OFFLINE="1",
               BUTTERFLYER_SERVE_CHAT="false")
    cmd = [sys.executable, "-m", "butterflyer.cli.main", "serve", "--model", model, "--port", str(port),
           "--threads", str(threads), "--refresh", "0"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not become ready in 180 s")


def in_process(model: str, photo: bytes, n: int = 40) -> dict:
    """The floor under HTTP: decode + preprocess + one ONNX run, single thread, no server."""
    from butterflyer.serve.identify import Identifier
    from butterflyer.serve.settings import ServeSettings

    ident = Identifier.load(model, ServeSettings(model_uri=model, threads=1))
    ident.identify_bytes(photo)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        ident.identify_bytes(photo)
        times.append((time.perf_counter() - t0) * 1000)
    return {"in_process_single_thread_ms_p50": round(float(np.median(times)), 1),
            "in_process_ms_min": round(min(times), 1)}


async def drive(url: str, photo: bytes, clients: int, seconds: float, max_requests: int) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while time.perf_counter() < stop_at and sent < max_requests:
            sent += 1
            t0 = time.perf_counter()
            try:
                res = await http.post(url, files={"image": ("photo.jpg", photo, "image/jpeg")})
                key = None if res.status_code == 200 else str(res.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            if key is None:
                latencies.append(time.perf_counter() - t0)
            else:
                errors[key] = errors.get(key, 0) + 1

    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await http.post(url, files={"image": ("photo.jpg", photo, "image/jpeg")})  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    lat = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {"requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
            "req_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append",
                    help="model folder or models:/ URI; repeat to compare models (default: newest found)")
    ap.add_argument("--photo", help="image to send (default: first test photo in the records)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-requests", type=int, default=5000)
    ap.add_argument("--configs", default="1x4,1x2,2x1",
                    help="comma-separated THREADSxINFERENCES: ORT threads x inferences at once")
    args = ap.parse_args()

    models = args.model or [find_model(None)]
    photo = sample_photo(args.photo)
    print(f"photo: {len(photo)} bytes; clients: {args.clients}; up to {args.seconds:.0f} s "
          f"or {args.max_requests} requests per config; cores: {os.cpu_count()} (shared: figures are noisy)")
    rows = []
    for model in models:
        print(json.dumps({"model": model, **in_process(model, photo)}))
    for model, config in ((m, c) for m in models for c in args.configs.split(",")):
        threads, concurrency = (int(x) for x in config.split("x"))
        port = free_port()
        proc = start_server(model, port, threads, concurrency)
        try:
            url = f"http://127.0.0.1:{port}/v1/identify"
            stats = asyncio.run(drive(url, photo, args.clients, args.seconds, args.max_requests))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        stats["config"] = f"{Path(model).name} threads={threads} concurrency={concurrency}"
        rows.append(stats)
        print(json.dumps(stats))
    best = max(rows, key=lambda r: r["req_per_s"])
    base = rows[0]["req_per_s"] or 1.0
    for r in rows:
        print(f"{r['config']:<48} {r['req_per_s']:>7.1f} req/s ({r['req_per_s'] / base:.2f}x first)  "
              f"p50 {r['p50_ms']:>6.1f} ms  p99 {r['p99_ms']:>6.1f} ms  errors {sum(r['errors'].values())}")
    ok = best["req_per_s"] >= 200 and best["p99_ms"] <= 100 and not best["errors"]
    print(f"target >= 200 req/s, p99 <= 100 ms, no errors: {'met' if ok else 'NOT met'} "
          f"(best: {best['config']})")


if __name__ == "__main__":
    main()
