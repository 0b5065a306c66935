"""The training loop wraps (DDP, torch.compile) once per stage, never once per epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

import butterflyer.train.loop as loop
from butterflyer.models import create_model
from butterflyer.train.config import TrainConfig
from butterflyer.train.distributed import DistContext
from butterflyer.train.trainer import train


def test_compile_runs_once_per_stage(image_folder: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[object] = []
    # an identity torch.compile counts the calls (compiling the tiny model would only cost time)
    monkeypatch.setattr(loop.torch, "compile", lambda net, **_: compiled.append(net) or net)
    cfg = TrainConfig(input=str(image_folder), output=str(tmp_path / "run"), model="tiny", profile="full",
                      epochs=5, head_epochs=2, batch_size=8, lr=3e-3, augment="none", tracker="none",
                      patience=0, compile=True)
    result = train(cfg)
    assert len(result.history) == 5
    assert len(compiled) == 2  # stage 1 and stage 2, not once per epoch (5)


def test_wrap_for_stage_without_ddp(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(loop.torch, "compile", lambda net, **_: calls.append(net) or net)
    model = create_model("tiny", 3, pretrained=False)
    net, ddp = loop.wrap_for_stage(model, False, DistContext(), True)
    assert ddp is None and calls == [model] and net is model
    net, ddp = loop.wrap_for_stage(model, False, DistContext(), False)
    assert net is model and len(calls) == 1
