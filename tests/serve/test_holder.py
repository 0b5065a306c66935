"""Model swaps: atomic under concurrent requests, on demand and by re-resolving an alias."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from butterflyer.errors import ModelError
from butterflyer.serve.app import create_app
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.settings import ServeSettings

from .conftest import imagenet_logits, make_constant_onnx, make_images, running_server


def _wait_for(condition, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _two_models(root: Path) -> tuple[Path, Path]:
    labels = ["A", "B", "C"]
    one = make_constant_onnx(root / "v1", [5.0, 0.0, 0.0], imagenet_logits(True), labels=labels, version="1")
    two = make_constant_onnx(root / "v2", [0.0, 5.0, 0.0], imagenet_logits(True), labels=labels, version="2")
    return one, two


def test_swap_under_concurrent_requests_drops_nothing(tmp_path: Path) -> None:
    one, two = _two_models(tmp_path)
    settings = ServeSettings(model_uri=str(one), refresh_seconds=0, max_concurrency=4)
    holder = ModelHolder(settings)
    app = create_app(settings, holder)
    jpeg = make_images()["jpeg"]
    seen: list[tuple[int, str | None, str | None]] = []
    stop = threading.Event()

    def hammer(base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                res = client.post("/v1/identify", files={"image": ("x.jpg", jpeg, "image/jpeg")})
                body = res.json()
                pair = (body.get("model", {}).get("version"), (body.get("species") or {}).get("id"))
                seen.append((res.status_code, *pair))

    with running_server(app) as base:
        workers = [threading.Thread(target=hammer, args=(base,)) for _ in range(6)]
        for w in workers:
            w.start()
        _wait_for(lambda: len(seen) >= 30)
        before = len(seen)
        assert holder.refresh(str(two)) is True
        _wait_for(lambda: len(seen) >= before + 30)
        stop.set()
        for w in workers:
            w.join(timeout=30)
    counts = Counter(seen)
    assert all(status == 200 for status, _, _ in seen), counts
    # every answer is whole: version 1 always says A, version 2 always says B
    assert set(counts) == {(200, "1", "A"), (200, "2", "B")}, counts
    assert seen[-1][1] == "2"
    assert holder.swaps == 2


def test_refresh_follows_a_moving_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = _two_models(tmp_path)
    target = {"path": one, "version": 7}
    import butterflyer.registry.resolve as resolve

    monkeypatch.setattr(resolve, "resolve_model_uri", lambda uri: target["path"])
    monkeypatch.setattr(resolve, "registry_version", lambda uri: target["version"])
    holder = ModelHolder(ServeSettings(model_uri="models:/butterflyer@champion", refresh_seconds=0.05))
    holder.start()
    try:
        # the registry's version number, not the folder's own ("1" and "2" in meta.json)
        assert holder.get().model.version == "7"
        assert holder.refresh() is False  # nothing moved
        target.update(path=two, version=9)  # promotion
        deadline = time.monotonic() + 10
        while holder.get().model.version != "9" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.get().model.version == "9"
    finally:
        holder.stop()


def test_a_broken_new_model_keeps_the_old_one_serving(tmp_path: Path) -> None:
    one, _ = _two_models(tmp_path)
    holder = ModelHolder(ServeSettings(model_uri=str(one), refresh_seconds=0))
    holder.start()
    broken = tmp_path / "broken"
    shutil.copytree(one, broken)
    (broken / "model.onnx").write_bytes(b"not onnx at all")
    with pytest.raises(ModelError):
        holder.refresh(str(broken))
    assert holder.get().model.version == "1"
    assert holder.last_error


def test_replaced_folder_contents_are_noticed(tmp_path: Path) -> None:
    one, two = _two_models(tmp_path)
    live = tmp_path / "live"
    shutil.copytree(one, live)
    holder = ModelHolder(ServeSettings(model_uri=str(live), refresh_seconds=0))
    holder.start()
    assert holder.get().model.version == "1"
    time.sleep(0.01)
    for name in ("model.onnx", "meta.json"):
        shutil.copyfile(two / name, live / name)
    assert holder.refresh() is True
    assert holder.get().model.version == "2"


def test_overload_is_a_clear_503_not_a_pile_up(tmp_path: Path) -> None:
    one, _ = _two_models(tmp_path)
    settings = ServeSettings(model_uri=str(one), refresh_seconds=0, max_concurrency=1, max_queue=1,
                             chat=False)

    def slow_loader(uri: str, s: ServeSettings):  # noqa: ANN202
        from butterflyer.serve.identify import Identifier
        from butterflyer.serve.session import load_served_model

        ident = Identifier.from_model(load_served_model(uri), s)
        fast = ident.identify_bytes

        def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            time.sleep(0.4)
            return fast(*args, **kwargs)

        ident.identify_bytes = slow  # type: ignore[method-assign]
        return ident

    app = create_app(settings, ModelHolder(settings, loader=slow_loader))
    jpeg = make_images()["jpeg"]
    statuses: list[int] = []
    reasons: list[str] = []

    def one_request(base: str) -> None:
        res = httpx.post(base + "/v1/identify", files={"image": ("x.jpg", jpeg, "image/jpeg")}, timeout=30)
        statuses.append(res.status_code)
        if res.status_code != 200:
            reasons.append(res.json()["error"])

    with running_server(app) as base:
        threads = [threading.Thread(target=one_request, args=(base,)) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert statuses.count(200) >= 2  # one running, one queued
    assert set(statuses) <= {200, 503}
    assert reasons and set(reasons) == {"busy"}
