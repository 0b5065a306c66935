"""Load test of ``POST /v1/identify`` on loopback: req/s, p50, p99, errors, CPU per answer.

Starts ``butterflyer serve`` in a child process for each configuration, then
drives it with ``--clients`` concurrent keep-alive clients for ``--seconds``
(bounded also by ``--max-requests``), all sending the same real photo, once per
load generator named in ``--client``:

- ``raw``: asyncio streams, HTTP/1.1 keep-alive, the multipart request built once
  as bytes, each response read by its Content-Length; about 0.2 ms of CPU per
  request, close to what a server sees from clients on other machines;
- ``httpx``: the ordinary Python client; about 1.3 ms of CPU per request.

Every status is checked, and the first answer on each connection and every 20th
after it are parsed as an identify answer, so errors cannot hide behind speed.
Client and server share this machine's cores, so the client's CPU is taken from
the server; each run prints the CPU milliseconds per answer of both. Configurations
and clients run one after another in the same invocation so their figures can be
compared side by side; on a shared machine absolute numbers are noisy.

    .venv/bin/python benchmarks/bench_serve.py        # newest model found, else pretrained lite0
    .venv/bin/python benchmarks/bench_serve.py --model PATH --configs 1x3 --client raw
    .venv/bin/python benchmarks/bench_serve.py --url http://127.0.0.1:8000/v1/identify   # a running server

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
from urllib.parse import urlsplit

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
    return wait_until_ready(proc, port, 180)


def wait_until_ready(proc: subprocess.Popen, port: int, seconds: float) -> subprocess.Popen:
    """``proc`` once its ``/readyz`` answers 200; raises with its stderr if it exits or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server did not become ready in {seconds:.0f} s")


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


VERDICTS = {"species", "genus", "family", "uncertain", "not_a_butterfly"}


class Tally:
    """Latencies of good answers and counts of bad ones, shared by every client of one run."""

    def __init__(self, seconds: float, max_requests: int) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.sent = 0
        self.stop_at = time.perf_counter() + seconds
        self.max_requests = max_requests

    def more(self) -> bool:
        """Claim the next request, or False when the time or the request budget is spent."""
        if time.perf_counter() >= self.stop_at or self.sent >= self.max_requests:
            return False
        self.sent += 1
        return True

    def record(self, started: float, error: str | None) -> None:
        if error is None:
            self.latencies.append(time.perf_counter() - started)
        else:
            self.errors[error] = self.errors.get(error, 0) + 1

    def summary(self, elapsed: float) -> dict:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.array([np.nan])
        return {"requests": len(self.latencies), "errors": self.errors, "seconds": round(elapsed, 2),
                "req_per_s": round(len(self.latencies) / elapsed, 1),
                "p50_ms": round(float(np.percentile(lat, 50)), 1),
                "p99_ms": round(float(np.percentile(lat, 99)), 1)}


def check_answer(body: bytes) -> str | None:
    """None when ``body`` is an identify answer, else a short error key."""
    try:
        answer = json.loads(body)
    except ValueError:
        return "bad_json"
    if not isinstance(answer, dict) or answer.get("verdict") not in VERDICTS or not answer.get("top_k"):
        return "bad_answer"
    return None


def multipart_request(url: str, photo: bytes) -> bytes:
    """The whole ``POST`` (headers and multipart body) as bytes, built once and sent as is."""
    parts = urlsplit(url)
    boundary = "butterflyer-bench-7d1c2a"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n")
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body (read by Content-Length) and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = (line.partition(":") for line in lines[1:] if line)
    headers = {name.strip().lower(): value.strip() for name, _, value in fields}
    if "content-length" not in headers:
        raise ValueError("response without Content-Length")
    body = await reader.readexactly(int(headers["content-length"]))
    return status, body, headers.get("connection", "").lower() != "close"


async def raw_client(url: str, request: bytes, tally: Tally, check_every: int) -> None:
    """One keep-alive connection on asyncio streams; its first answer and every ``check_every``-th
    after it are parsed and checked, every status is."""
    parts = urlsplit(url)
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    answered = 0
    while tally.more():
        started = time.perf_counter()
        error: str | None = None
        try:
            if conn is None:
                conn = await asyncio.open_connection(parts.hostname, parts.port)
            reader, writer = conn
            writer.write(request)
            status, body, keep = await read_response(reader)
            if status != 200:
                error = str(status)
            elif answered % check_every == 0:
                error = check_answer(body)
            answered += 1
            if not keep:
                writer.close()
                conn = None
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            error = type(exc).__name__
            if conn is not None:
                conn[1].close()
                conn = None
        tally.record(started, error)
    if conn is not None:
        conn[1].close()


async def httpx_client(http: httpx.AsyncClient, url: str, photo: bytes, tally: Tally,
                       check_every: int) -> None:
    """One client through httpx (pooled keep-alive connections), checking answers like :func:`raw_client`."""
    answered = 0
    while tally.more():
        started = time.perf_counter()
        try:
            res = await http.post(url, files={"image": ("photo.jpg", photo, "image/jpeg")})
            error = None if res.status_code == 200 else str(res.status_code)
            if error is None and answered % check_every == 0:
                error = check_answer(res.content)
            answered += 1
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        tally.record(started, error)


async def drive(url: str, photo: bytes, clients: int, seconds: float, max_requests: int, kind: str,
                check_every: int = 20) -> dict:
    """``clients`` concurrent keep-alive clients of ``kind`` (raw or httpx) for ``seconds``."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        warm = await http.post(url, files={"image": ("photo.jpg", photo, "image/jpeg")})
        if warm.status_code != 200 or check_answer(warm.content):
            raise RuntimeError(f"the server answered {warm.status_code}: {warm.text[:500]}")
        tally = Tally(seconds, max_requests)
        if kind == "raw":
            request = multipart_request(url, photo)
            jobs = [raw_client(url, request, tally, check_every) for _ in range(clients)]
        else:
            jobs = [httpx_client(http, url, photo, tally, check_every) for _ in range(clients)]
        started = time.perf_counter()
        await asyncio.gather(*jobs)
        return tally.summary(time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append",
                    help="model folder or models:/ URI; repeat to compare models (default: newest found)")
    ap.add_argument("--photo", help="image to send (default: first test photo in the records)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-requests", type=int, default=5000)
    ap.add_argument("--configs", default="1x3,1x2,2x1",
                    help="comma-separated THREADSxINFERENCES: ORT threads x inferences at once")
    ap.add_argument("--client", default="raw,httpx",
                    help="load generators to run one after another against each server: raw (asyncio "
                         "streams, request bytes built once) and/or httpx")
    ap.add_argument("--url", help="drive this already running /v1/identify URL instead of starting servers")
    args = ap.parse_args()

    kinds = [k.strip() for k in args.client.split(",") if k.strip()]
    if not kinds or set(kinds) - {"raw", "httpx"}:
        ap.error(f"--client takes raw and/or httpx, not {args.client!r}")
    photo = sample_photo(args.photo)
    print(f"photo: {len(photo)} bytes; clients: {args.clients} ({', '.join(kinds)}); "
          f"up to {args.seconds:.0f} s or {args.max_requests} requests per run; cores: {os.cpu_count()}, "
          f"shared by the server and the load generator (figures are noisy); "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.url:
        rows = [dict(run(args.url, photo, args, kind), config=f"{args.url} client={kind}") for kind in kinds]
    else:
        models = args.model or [find_model(None)]
        for model in models:
            print(json.dumps({"model": model, **in_process(model, photo)}))
        configs = args.configs.split(",")
        rows = [row for m in models for c in configs for row in bench_config(m, c, photo, args, kinds)]
    report(rows)


def cpu_seconds(pid: int | None) -> float:
    """CPU time of ``pid`` and its child processes (uvicorn workers), from /proc; 0 elsewhere."""
    if pid is None:
        return 0.0
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for p in [str(pid), *children]:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return 0.0
    return total


def run(url: str, photo: bytes, args: argparse.Namespace, kind: str, server_pid: int | None = None) -> dict:
    """One load run; adds the CPU milliseconds per answer spent by the client and by the server."""
    client0, server0 = time.process_time(), cpu_seconds(server_pid)
    stats = asyncio.run(drive(url, photo, args.clients, args.seconds, args.max_requests, kind))
    answers = max(stats["requests"], 1)
    stats["client_cpu_ms_per_req"] = round((time.process_time() - client0) * 1000 / answers, 2)
    if server_pid is not None:
        stats["server_cpu_ms_per_req"] = round((cpu_seconds(server_pid) - server0) * 1000 / answers, 2)
    print(json.dumps({"client": kind, **stats}))
    return stats


def bench_config(model: str, config: str, photo: bytes, args: argparse.Namespace,
                 kinds: list[str]) -> list[dict]:
    """Start one server for ``config`` (THREADSxINFERENCES) and drive it with each client kind in turn."""
    threads, concurrency = (int(x) for x in config.split("x"))
    port = free_port()
    proc = start_server(model, port, threads, concurrency)
    name = f"{Path(model).name} threads={threads} concurrency={concurrency}"
    try:
        url = f"http://127.0.0.1:{port}/v1/identify"
        return [dict(run(url, photo, args, kind, proc.pid), config=f"{name} client={kind}") for kind in kinds]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def report(rows: list[dict]) -> None:
    """One line per run, ratios to the first, and whether the best run meets the target."""
    best = max(rows, key=lambda r: r["req_per_s"])
    base = rows[0]["req_per_s"] or 1.0
    for r in rows:
        print(f"{r['config']:<62} {r['req_per_s']:>7.1f} req/s ({r['req_per_s'] / base:.2f}x first)  "
              f"p50 {r['p50_ms']:>6.1f} ms  p99 {r['p99_ms']:>6.1f} ms  errors {sum(r['errors'].values())}")
    ok = best["req_per_s"] >= 200 and best["p99_ms"] <= 100 and not best["errors"]
    print(f"target >= 200 req/s, p99 <= 100 ms, no errors: {'met' if ok else 'NOT met'} "
          f"(best: {best['config']}); load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
