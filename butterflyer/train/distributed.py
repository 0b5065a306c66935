"""Multi-process training: launch with torchrun, and the per-process context.

``--gpu N`` (N > 1) or ``--nproc N`` starts N processes through
``torch.distributed.run``; each runs :mod:`butterflyer.train.worker`. NCCL is
used when CUDA is present, gloo otherwise (CPU DDP, used by the tests).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from butterflyer.errors import ButterflyerError


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def in_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def init(use_cuda: bool) -> DistContext:
    """Join the process group started by torchrun (or a single-process context)."""
    if not in_torchrun():
        device = torch.device("cuda", 0) if use_cuda else torch.device("cpu")
        return DistContext(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend)
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if not use_cuda:
        torch.set_num_threads(max(1, (os.cpu_count() or 2) // world))
    return DistContext(rank, world, local, device)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(config_path: Path, nproc: int, log_dir: Path) -> None:
    """Run ``nproc`` worker processes on this machine and wait; raises if any fails."""
    log_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        "-m",
        "butterflyer.train.worker",
        str(config_path),
    ]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // nproc)))
    with open(log_dir / "torchrun.log", "wb") as out:
        code = subprocess.call(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        tail = (log_dir / "torchrun.log").read_text(errors="replace")[-3000:]
        raise ButterflyerError(
            f"distributed training failed (exit {code}); log {log_dir / 'torchrun.log'}:\n{tail}"
        )
