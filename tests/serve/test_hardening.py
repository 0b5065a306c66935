"""The server protects itself: bounded headers, slow clients cut off, quiet disconnects, admission,
no private paths or Python reprs, a strict admin token. Real uvicorn on a loopback port where it matters."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from butterflyer.serve.app import create_app
from butterflyer.serve.catalog import Catalog
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.identify import Identifier
from butterflyer.serve.routes.model import ADMIN_TOKEN_ENV
from butterflyer.serve.session import load_served_model
from butterflyer.serve.settings import ServeSettings

from .conftest import imagenet_logits, make_constant_onnx, make_images, running_server
from .test_api import client_for


@contextmanager
def served(tmp_path: Path, **overrides) -> Iterator[tuple[str, int]]:  # noqa: ANN003
    """A real uvicorn with the production guards on a constant model; yields (base URL, port)."""
    folder = make_constant_onnx(tmp_path / "m", [3.0, 1.0], imagenet_logits(True))
    overrides.setdefault("chat", False)
    settings = ServeSettings(model_uri=str(folder), refresh_seconds=0, **overrides)
    holder = ModelHolder(settings, loader=lambda uri, s: Identifier.from_model(load_served_model(uri), s,
                                                                               Catalog()))
    with running_server(create_app(settings, holder)) as base:
        yield base, int(base.rsplit(":", 1)[1])


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def _status(raw: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3})", raw)
    return int(match.group(1)) if match else 0


# -- 5: header size and count ----------------------------------------------------------------------

def test_huge_header_line_and_too_many_headers_get_431_and_the_server_stays_up(tmp_path: Path) -> None:
    with served(tmp_path, max_header_bytes=16_384, max_headers=50) as (base, port):
        sock = _connect(port)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent, refused = 0, False
        try:
            for _ in range(400):  # up to 25 MB; the server must stop us long before
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            refused = True
        answer = _read_all(sock)
        sock.close()
        assert refused or _status(answer) == 431
        assert sent < 10_000_000  # cut off after the limit (plus the loopback socket buffers), not 25 MB
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(80))
        sock = _connect(port)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        answer = _read_all(sock)
        sock.close()
        assert _status(answer) == 431 and b"too_many_headers" in answer
        ok = httpx.get(base + "/healthz", headers={f"X-Fine-{i}": "v" * 100 for i in range(20)})
        assert ok.status_code == 200
        metrics = httpx.get(base + "/metrics").text
        assert 'butterflyer_refused_total{reason="too_many_headers"} 1.0' in metrics


# -- 6: slow clients -------------------------------------------------------------------------------

def test_slow_headers_and_slow_bodies_are_cut_off_while_normal_requests_keep_working(tmp_path: Path) -> None:
    jpeg = make_images()["jpeg"]
    with served(tmp_path, header_timeout=1.0, body_timeout=1.5) as (base, port):
        loris = []
        for _ in range(30):
            sock = _connect(port)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            loris.append(sock)
        idle = _connect(port)  # connects and never sends a byte
        body = _connect(port)
        body.sendall(b"POST /v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                     b"Content-Length: 5000\r\n\r\n")
        started = time.monotonic()
        latencies = []
        with httpx.Client(base_url=base) as client:
            while time.monotonic() - started < 2.5:
                t0 = time.perf_counter()
                res = client.post("/v1/identify", content=jpeg, headers={"content-type": "image/jpeg"})
                latencies.append(time.perf_counter() - t0)
                assert res.status_code == 200
                with contextlib.suppress(OSError):
                    body.sendall(b"x")  # one byte at a time, as a 1 byte/s client would
                time.sleep(0.05)
        assert max(latencies) < 1.0, latencies
        for sock in loris:
            assert _status(_read_all(sock)) == 408
            sock.close()
        assert _read_all(idle).startswith(b"HTTP/1.1 408")
        answer = _read_all(body)
        assert _status(answer) == 408 and b"slow_upload" in answer
        metrics = httpx.get(base + "/metrics").text
        assert 'butterflyer_refused_total{reason="header_timeout"} 31.0' in metrics
        assert 'butterflyer_refused_total{reason="slow_upload"} 1.0' in metrics


def test_open_connections_are_bounded_and_freed_by_the_header_deadline(tmp_path: Path) -> None:
    with served(tmp_path, max_connections=4, header_timeout=1.0) as (base, port):
        held = [_connect(port) for _ in range(4)]
        time.sleep(0.2)
        assert httpx.get(base + "/healthz").status_code == 503  # past the bound: refused, not queued
        time.sleep(1.2)  # the held connections never sent headers: cut at the deadline
        assert httpx.get(base + "/healthz").status_code == 200
        for sock in held:
            sock.close()


# -- 7: a client that goes away mid-upload -------------------------------------------------------

class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("kind", ["raw", "multipart"])
def test_disconnect_mid_upload_is_one_info_line_and_a_metric(tmp_path: Path, kind: str) -> None:
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn", "butterflyer", "fastapi")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        with served(tmp_path) as (base, port):
            if kind == "raw":
                head = (b"POST /v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                        b"Content-Length: 200000\r\n\r\n")
                part = b"\xff\xd8\xff" + b"\0" * 20_000
            else:
                head = (b"POST /v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                        b"boundary=XX\r\nContent-Length: 200000\r\n\r\n")
                part = (b"--XX\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                        b"Content-Type: image/jpeg\r\n\r\n" + b"\0" * 20_000)
            sock = _connect(port)
            sock.sendall(head + part)
            time.sleep(0.2)
            sock.close()
            deadline = time.monotonic() + 10
            while "butterflyer_client_disconnects_total 1.0" not in httpx.get(base + "/metrics").text:
                assert time.monotonic() < deadline, "the disconnect was not counted"
                time.sleep(0.05)
            time.sleep(0.2)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
    errors = [r for r in handler.records if r.levelno >= logging.WARNING]
    assert not errors, [r.getMessage() for r in errors]
    infos = [r for r in handler.records
             if r.levelno == logging.INFO and "client disconnected" in r.getMessage()]
    assert len(infos) == 1 and not any(r.exc_info for r in handler.records)


# -- 8: admission control on the Vertex route -----------------------------------------------------

def test_vertex_batches_are_admitted_per_instance_and_explain_is_capped(tiny_model: Path) -> None:
    good = base64.b64encode(make_images()["jpeg"]).decode()
    with client_for(str(tiny_model), Catalog(), max_queue=3) as client:
        res = client.post("/v1/vertex/predict", json={"instances": [{"b64": good}] * 4})
        assert res.status_code == 503 and res.json()["error"] == "busy"
        assert res.headers["retry-after"] == "1"
        res = client.post("/v1/vertex/predict", json={"instances": [{"b64": good}] * 3})
        assert res.status_code == 200 and len(res.json()["predictions"]) == 3
        res = client.post("/v1/vertex/predict",
                          json={"instances": [{"b64": good}] * 5, "parameters": {"explain": True}})
        assert res.status_code == 413 and res.json()["error"] == "too_much_work"
        client.app.state.limiter = SimpleNamespace(statistics=lambda: SimpleNamespace(tasks_waiting=3))
        res = client.post("/v1/vertex/predict", json={"instances": [{"b64": good}]})
        assert res.status_code == 503 and res.headers["retry-after"] == "1"
        res = client.post("/v1/identify", content=make_images()["jpeg"],
                          headers={"content-type": "image/jpeg"})
        assert res.status_code == 503 and res.headers["retry-after"] == "1"  # the same rule on both routes


# -- 9: nothing private in answers ------------------------------------------------------------------

def test_model_info_has_no_server_path_and_errors_have_no_python_reprs(tmp_path: Path) -> None:
    folder = make_constant_onnx(tmp_path / "secret-place" / "m", [3.0, 1.0], imagenet_logits(True))
    with client_for(str(folder), Catalog()) as client:
        res = client.get("/v1/model")
        assert res.status_code == 200
        assert "secret-place" not in res.text and str(tmp_path) not in res.text and "folder" not in res.json()
        assert res.json()["sha256"] == hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
        assert res.json()["uri"] == "(local folder)"
        junk = b"\xff\xd8\xff" + b"not really a jpeg" * 20
        res = client.post("/v1/identify", content=junk, headers={"content-type": "image/jpeg"})
        assert res.status_code == 422
        assert "object at 0x" not in res.text and "<_io" not in res.text
        instances = [{"b64": base64.b64encode(junk).decode()}]
        res = client.post("/v1/vertex/predict", json={"instances": instances})
        assert "object at 0x" not in res.text


# -- 10: the admin token ----------------------------------------------------------------------------

def test_reload_needs_the_bearer_scheme_and_compares_in_constant_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    from butterflyer.serve.routes import model as model_route

    folder = make_constant_onnx(tmp_path / "m", [3.0, 1.0], imagenet_logits(True))
    monkeypatch.setenv(ADMIN_TOKEN_ENV, "s3cret-token")
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(model_route.hmac, "compare_digest", spy)
    with client_for(str(folder), Catalog()) as client:
        for header in ("s3cret-token", "Basic s3cret-token", "Bearer", "Bearer wrong", "Token s3cret-token"):
            res = client.post("/v1/model/reload", headers={"Authorization": header})
            assert res.status_code == 403, header
        assert client.post("/v1/model/reload").status_code == 403
        for header in ("Bearer s3cret-token", "bearer s3cret-token"):  # the scheme is case-insensitive
            assert client.post("/v1/model/reload", headers={"Authorization": header}).status_code == 200
    assert b"s3cret-token" in compared


def test_reload_is_off_without_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_constant_onnx(tmp_path / "m", [3.0, 1.0], imagenet_logits(True))
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    with client_for(str(folder), Catalog()) as client:
        assert client.post("/v1/model/reload", headers={"Authorization": "Bearer "}).status_code == 403


# -- 11: identify on a FIFO or a device ------------------------------------------------------------

def test_identify_refuses_a_fifo_and_a_device_instead_of_hanging(tiny_model: Path, tmp_path: Path) -> None:
    import os

    from typer.testing import CliRunner

    from butterflyer.cli.main import app

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    outcome: dict[str, object] = {}

    def run() -> None:
        args = ["identify", str(fifo), "/dev/null", "--json", "--model", str(tiny_model)]
        result = CliRunner().invoke(app, args)
        outcome["result"] = result

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    hung = worker.is_alive()
    if hung:  # let the blocked reader go: a writer that opens and closes gives it end-of-file
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=10)
    assert not hung, "identify blocked on a FIFO"
    result = outcome["result"]
    assert result.exit_code == 1  # type: ignore[attr-defined]
    lines = [line for line in result.output.splitlines() if line.startswith("{")]  # type: ignore[attr-defined]
    assert len(lines) == 2 and all('"error": "not_a_file"' in line for line in lines)
    assert "not a regular file" in lines[0]
