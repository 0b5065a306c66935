"""Fixtures for training tests: a tiny synthetic image folder that a tiny model can learn."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

LABELS = ["BLUE SPOT", "GREEN BAR", "RED RING"]


def make_image_folder(
    root: Path, per_class: dict[str, int] | None = None, size: int = 40, seed: int = 0
) -> Path:
    """``root/<split>/<label>/*.jpg``; each class has its own colour and shape, plus noise."""
    rng = np.random.default_rng(seed)
    per_class = per_class or {"train": 24, "val": 8, "test": 8}
    yy, xx = np.mgrid[0:size, 0:size]
    for split, n in per_class.items():
        for c, label in enumerate(LABELS):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.normal(110, 35, (size, size, 3))
                cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
                if c == 0:
                    mask = (yy - cy) ** 2 + (xx - cx) ** 2 < (size // 5) ** 2
                elif c == 1:
                    mask = np.abs(xx - cx) < size // 8
                else:
                    r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
                    mask = (r > size // 6) & (r < size // 3)
                img[mask, c] += 120
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
                    folder / f"{i:03d}.jpg", quality=92
                )
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "data")


@pytest.fixture(autouse=True)
def one_thread() -> None:
    """Two shared cores under load: one intra-op thread avoids OpenMP spin-waiting (25x faster here)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Runs the CLI with the loop's save_checkpoint wrapped so that the process SIGKILLs
# itself right after writing epoch N's checkpoint: a crash with no cleanup at all.
_KILL_AFTER = """
import os, signal, sys
import butterflyer.train.loop as loop
target = int(sys.argv.pop(1))
save = loop.save_checkpoint
def save_then_die(folder, model, optimizer, state):
    path = save(folder, model, optimizer, state)
    if state["epoch"] == target:
        os.kill(os.getpid(), signal.SIGKILL)
    return path
loop.save_checkpoint = save_then_die
from butterflyer.cli.main import main
sys.argv[0] = "butterflyer"
main()
"""


@pytest.fixture
def cli_killed_after_epoch() -> Callable[[int], list[str]]:
    """``n -> argv prefix`` of a ``butterflyer`` CLI run that is SIGKILLed after epoch n's checkpoint."""
    return lambda epoch: [sys.executable, "-c", _KILL_AFTER, str(epoch)]
