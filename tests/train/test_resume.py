"""``kill -9`` mid-run, ``--resume``, and the result equals an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from butterflyer.fileio import read_json

pytestmark = pytest.mark.slow


def _train(
    data: Path, out: Path, extra: list[str], env: dict[str, str], cli: list[str] | None = None
) -> subprocess.CompletedProcess:
    cmd = [
        *(cli or [sys.executable, "-m", "butterflyer.cli.main"]),
        "train",
        "--input",
        str(data),
        "--output",
        str(out),
        "--model",
        "tiny",
        "--profile",
        "full",
        "--epochs",
        "5",
        "--head-epochs",
        "1",
        "--batch-size",
        "8",
        "--lr",
        "0.003",
        "--augment",
        "trivial",
        "--tracker",
        "none",
        "--patience",
        "0",
        "--seed",
        "3",
        *extra,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_resume_after_kill_matches_uninterrupted_run(
    image_folder: Path, tmp_path: Path, cli_killed_after_epoch: Callable[[int], list[str]]
) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = _train(image_folder, tmp_path / "whole", [], env)
    assert whole.returncode == 0, whole.stderr[-2000:]

    killed = _train(image_folder, tmp_path / "cut", [], env, cli_killed_after_epoch(3))
    assert killed.returncode == -9  # SIGKILL: no cleanup ran
    assert (tmp_path / "cut" / "checkpoints" / "last.pt").is_file()
    assert not (tmp_path / "cut" / "model").exists()

    resumed = _train(image_folder, tmp_path / "cut", ["--resume"], env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    a = load_file(str(tmp_path / "whole" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    ha = read_json(tmp_path / "whole" / "result.json")
    hb = read_json(tmp_path / "cut" / "result.json")
    assert [h["val_top1"] for h in ha["history"]] == [h["val_top1"] for h in hb["history"]]
    assert ha["metrics"]["test_top1"] == hb["metrics"]["test_top1"]
