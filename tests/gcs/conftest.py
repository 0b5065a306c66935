"""A real GCS JSON API on loopback: ``gcp-storage-emulator`` in a subprocess, ``gcsfs`` pointed at it.

The emulator starts once per session on a free port (about a second) and keeps
its buckets in memory; each test gets its own bucket. The environment it sets
(``STORAGE_EMULATOR_HOST`` and friends) reaches CLI and pipeline subprocesses too.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import fsspec
import pytest

EMULATOR_ENV = {
    # gcsfs sends every request to this host instead of storage.googleapis.com
    "STORAGE_EMULATOR_HOST": "",
    # fsspec's per-protocol default: no credentials (the emulator checks none; looking for them stalls)
    "FSSPEC_GCS_TOKEN": "anon",
    # gcsfs's zonal/HNS layer asks the Storage Control API over gRPC first, which the emulator lacks
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gcp-storage-emulator exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gcp-storage-emulator did not listen on port {port} within {timeout:.0f}s")


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """Start the emulator and point gcsfs at it; yields its base URL."""
    pytest.importorskip("gcsfs")
    pytest.importorskip("gcp_storage_emulator")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
         "--port", str(port), "--in-memory", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = {k: os.environ.get(k) for k in EMULATOR_ENV}
    try:
        _wait_until_listening(port, proc)
        url = f"http://127.0.0.1:{port}"
        os.environ.update({**EMULATOR_ENV, "STORAGE_EMULATOR_HOST": url})
        import gcsfs.core

        # this process may have imported gcsfs before the variables were set: register the plain
        # GCS filesystem and drop cached instances so the next one reads the emulator's address
        for protocol in ("gs", "gcs"):
            fsspec.register_implementation(protocol, gcsfs.core.GCSFileSystem, clobber=True)
            fsspec.config.conf.setdefault(protocol, {})["token"] = "anon"
        gcsfs.core.GCSFileSystem.clear_instance_cache()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for protocol in ("gs", "gcs"):
            fsspec.config.conf.get(protocol, {}).pop("token", None)


@pytest.fixture
def bucket(gcs_emulator: str) -> str:
    """A fresh, empty bucket: ``gs://<name>``."""
    name = f"bf-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("gs").mkdir(name)
    return f"gs://{name}"
