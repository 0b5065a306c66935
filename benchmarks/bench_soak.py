"""Soak test of the server: mixed traffic at ~80 % of measured capacity while the model is swapped twice.

Starts ``butterflyer serve`` in a child process on a *live* model folder, measures
the capacity of the traffic mix with closed-loop clients for ``--capacity-seconds``,
then sends the same mix open-loop at ``--load`` (default 0.8) of that rate for
``--minutes``:

- identify with a 640x480 photo and with a 12 MP (4000x3000) photo;
- a few bad uploads (text bytes: 415; a truncated JPEG: 422), which must be refused;
- ``/v1/chat`` (unless ``--no-chat``), ``/v1/species`` and a species card, ``/metrics``.

At one third and two thirds of the run the served model is swapped through the
server's reload path (``POST /v1/model/reload`` with the admin token): first a
second version is copied over the live folder ("promote"), then the first is
copied back ("rollback"); each swap is checked in ``/v1/model``. Printed: errors by
kind (anything but the intended 4xx), p50/p99 per route per window, and the
server's RSS at the start, every minute and at the end, with its growth after
the warm-up (the first minute, or the first third of a shorter run).

    .venv/bin/python benchmarks/bench_soak.py --minutes 2                 # a tiny model built on the spot
    .venv/bin/python benchmarks/bench_soak.py --model PATH --minutes 10

Without ``--model`` a tiny untrained network is built the way the serve tests do,
so the figures measure the server (HTTP, decoding, queueing, swaps, memory), not a
real model's inference cost.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import free_port, wait_until_ready  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "soak-admin-token"
# route name -> (share of requests, expected statuses)
MIX = {"identify_small": (0.55, {200}), "identify_12mp": (0.04, {200}), "bad_upload": (0.04, {415, 422}),
       "chat": (0.10, {200}), "species": (0.17, {200}), "metrics": (0.10, {200})}


def tiny_model(folder: Path, version: str, labels: list[str]) -> Path:
    """A real tiny network (safetensors) with an ImageNet head, as tests/serve/conftest.py builds it."""
    import torch
    from torch import nn

    from butterflyer.models import DataConfig, ModelMeta, create_model, save_model

    torch.manual_seed(int(version.rsplit("-", 1)[-1]))
    model = create_model("tiny", len(labels), pretrained=False)
    model.imagenet_head = nn.Linear(model.num_features, 1000).requires_grad_(False)
    config = DataConfig(input_size=64, resize_size=72, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    return save_model(model.eval(), folder, ModelMeta(architecture="tiny", version=version, labels=labels,
                                                      data_config=config))


def two_versions(model: str | None, work: Path) -> tuple[Path, Path, list[str]]:
    """Folders of version A and B (B is A with another version string when ``--model`` is given)."""
    if model:
        a, b = work / "a", work / "b"
        shutil.copytree(model, a)
        shutil.copytree(model, b)
        meta = json.loads((b / "meta.json").read_text())
        meta["version"] = f"{meta.get('version', '1')}-b"
        (b / "meta.json").write_text(json.dumps(meta))
        return a, b, list(meta["labels"])
    from butterflyer.serve.catalog import load_catalog

    labels = sorted(load_catalog().entries)[:20] or [f"S{i}" for i in range(20)]
    return tiny_model(work / "a", "soak-1", labels), tiny_model(work / "b", "soak-2", labels), labels


def install(source: Path, live: Path) -> None:
    """Copy a version's files over the live folder (new mtimes: the server sees a new model)."""
    live.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            shutil.copyfile(path, live / f".{path.name}.tmp")
            os.replace(live / f".{path.name}.tmp", live / path.name)


def photos() -> dict[str, bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)

    def smooth(width: int, height: int) -> bytes:
        small = rng.integers(0, 256, (height // 100 + 2, width // 100 + 2, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=88)
        return buf.getvalue()

    small = smooth(640, 480)
    return {"small": small, "big": smooth(4000, 3000), "text": b"field notes, not a photo\n" * 40,
            "truncated": small[: len(small) // 2]}


def start_server(live: Path, port: int, chat: bool) -> subprocess.Popen:
    env = dict(os.environ, BUTTERFLYER_ADMIN_TOKEN=TOKEN, HF_HUB_OFFLINE="1",
               BUTTERFLYER_SERVE_CHAT="true" if chat else "false")
    cmd = [sys.executable, "-m", "butterflyer.cli.main", "serve", "--model", str(live), "--port", str(port),
           "--refresh", "0"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return wait_until_ready(proc, port, 300)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Tally:
    """Latencies by (window, route) and unexpected outcomes by kind."""

    window_s: float
    started: float = field(default_factory=time.perf_counter)
    latencies: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    intended_4xx: int = 0
    sent: int = 0

    def record(self, route: str, t0: float, outcome: int | str) -> None:
        expected = MIX[route][1]
        if outcome in expected:
            window = int((t0 - self.started) // self.window_s)
            self.latencies[(window, route)].append((time.perf_counter() - t0) * 1000)
            if route == "bad_upload":
                self.intended_4xx += 1
        else:
            self.errors[f"{route}: {outcome}"] += 1


async def one_request(client: httpx.AsyncClient, route: str, data: dict[str, bytes], labels: list[str],
                      rng: random.Random, tally: Tally) -> None:
    t0 = time.perf_counter()
    outcome: int | str
    try:
        if route.startswith("identify"):
            photo = data["small" if route == "identify_small" else "big"]
            res = await client.post("/v1/identify", files={"image": ("p.jpg", photo, "image/jpeg")})
        elif route == "bad_upload":
            res = await client.post("/v1/identify", content=data[rng.choice(["text", "truncated"])],
                                    headers={"content-type": "image/jpeg"})
        elif route == "chat":
            res = await client.post("/v1/chat", json={"message": "What does its caterpillar eat?",
                                                      "species_id": rng.choice(labels)})
        elif route == "species":
            path = "/v1/species" if rng.random() < 0.5 else f"/v1/species/{rng.choice(labels)}"
            res = await client.get(path)
        else:
            res = await client.get("/metrics")
        outcome = res.status_code
        if outcome == 200 and route.startswith("identify") and "verdict" not in res.json():
            outcome = "bad_answer"
    except httpx.HTTPError as exc:
        outcome = type(exc).__name__
    tally.record(route, t0, outcome)


def pick(rng: random.Random, chat: bool) -> str:
    routes = [r for r in MIX if chat or r != "chat"]
    return rng.choices(routes, weights=[MIX[r][0] for r in routes])[0]


async def capacity(base: str, data: dict[str, bytes], labels: list[str], chat: bool, seconds: float,
                   clients: int) -> float:
    """Requests per second of the mix with ``clients`` closed-loop clients."""
    tally = Tally(window_s=seconds + 1)
    stop = time.perf_counter() + seconds
    rng = random.Random(1)

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop:
            await one_request(client, pick(rng, chat), data, labels, rng, tally)
            tally.sent += 1

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return tally.sent / (time.perf_counter() - t0)


async def soak(base: str, pid: int, live: Path, versions: tuple[Path, Path], data: dict[str, bytes],
               labels: list[str], chat: bool, rate: float, minutes: float) -> dict:
    seconds = minutes * 60
    window = 60.0 if minutes >= 3 else max(10.0, seconds / 6)
    tally = Tally(window_s=window)
    rng = random.Random(2)
    rss = [(0.0, rss_mb(pid))]
    swaps: list[dict] = []
    pending: set[asyncio.Task] = set()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        plan = [(seconds / 3, "promote", versions[1]), (2 * seconds / 3, "rollback", versions[0])]
        next_rss = 10.0
        t0 = time.perf_counter()
        due = t0
        while (now := time.perf_counter()) - t0 < seconds:
            elapsed = now - t0
            if plan and elapsed >= plan[0][0]:
                _, kind, source = plan.pop(0)
                await asyncio.to_thread(install, source, live)
                res = await client.post("/v1/model/reload", headers=headers)
                version = res.json().get("version") if res.status_code == 200 else None
                swaps.append({"at_s": round(elapsed, 1), "kind": kind, "status": res.status_code,
                              "version": version})
            if elapsed >= next_rss:
                rss.append((round(elapsed, 1), rss_mb(pid)))
                next_rss += 10.0
            if len(pending) < 256:
                task = asyncio.create_task(one_request(client, pick(rng, chat), data, labels, rng, tally))
                pending.add(task)
                task.add_done_callback(pending.discard)
            else:
                tally.errors["client backlog full (server too slow)"] += 1
            due += rng.expovariate(rate)  # Poisson arrivals at the target rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await asyncio.gather(*pending)
    rss.append((round(time.perf_counter() - t0, 1), rss_mb(pid)))
    return {"tally": tally, "rss": rss, "swaps": swaps, "window": window, "seconds": seconds}


def report(result: dict, capacity_rps: float, rate: float, chat: bool) -> dict:
    tally: Tally = result["tally"]
    rows = []
    windows = sorted({w for w, _ in tally.latencies})
    for route in [r for r in MIX if chat or r != "chat"]:
        cells = []
        for w in windows:
            lat = tally.latencies.get((w, route), [])
            if lat:
                cells.append(f"{np.percentile(lat, 50):6.1f}/{np.percentile(lat, 99):7.1f}")
            else:
                cells.append(f"{'-':>14s}")
        rows.append(f"{route:15s} " + "  ".join(cells))
    print(f"\ncapacity of the mix: {capacity_rps:.1f} req/s; soak rate {rate:.1f} req/s for "
          f"{result['seconds'] / 60:g} min")
    print(f"p50/p99 ms per route, windows of {result['window']:g} s:")
    print(" " * 16 + "  ".join(f"{'t=' + str(int(w * result['window'])) + 's':>14s}" for w in windows))
    print("\n".join(rows))
    print(f"swaps: {result['swaps']}")
    errors = dict(tally.errors)
    print(f"errors by kind: {errors or 'none'}; intended 4xx (bad uploads refused): {tally.intended_4xx}")
    rss = result["rss"]
    warm_at = 60.0 if result["seconds"] >= 180 else result["seconds"] / 3
    warm = next((mb for t, mb in rss if t >= warm_at), rss[-1][1])
    growth = (rss[-1][1] - warm) / warm * 100
    minute_marks = [(t, mb) for t, mb in rss if t == 0 or int(t) % 60 < 10] + [rss[-1]]
    print("server RSS MB: " + ", ".join(f"{t:g}s {mb:.0f}" for t, mb in dict(minute_marks).items()))
    print(f"RSS after warm-up ({warm_at:g} s): {warm:.0f} MB -> end {rss[-1][1]:.0f} MB: {growth:+.1f} %")
    return {"capacity_rps": round(capacity_rps, 1), "rate_rps": round(rate, 1), "errors": errors,
            "intended_4xx": tally.intended_4xx, "swaps": result["swaps"], "rss_mb": rss,
            "rss_growth_after_warmup_pct": round(growth, 2),
            "requests": sum(len(v) for v in tally.latencies.values()) + sum(errors.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder to serve (default: a tiny model built now)")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--load", type=float, default=0.8, help="share of the measured capacity to send")
    parser.add_argument("--capacity-seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients of the capacity run")
    parser.add_argument("--no-chat", action="store_true", help="leave the chat route out of the mix")
    args = parser.parse_args()
    chat = not args.no_chat
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        a, b, labels = two_versions(args.model, work)
        live = work / "live"
        install(a, live)
        port = free_port()
        proc = start_server(live, port, chat)
        base = f"http://127.0.0.1:{port}"
        try:
            data = photos()
            if chat:  # the first question loads the encoder and the index: not part of the soak
                httpx.post(base + "/v1/chat", json={"message": "hello"}, timeout=300)
            cap = asyncio.run(capacity(base, data, labels, chat, args.capacity_seconds, args.clients))
            rate = args.load * cap
            result = asyncio.run(soak(base, proc.pid, live, (a, b), data, labels, chat, rate, args.minutes))
            summary = report(result, cap, rate, chat)
            print(json.dumps(summary))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
