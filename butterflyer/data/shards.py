"""Shard files and their progress marks: what every ``build-records`` runner writes.

:func:`write_shard` frames and writes one shard; :func:`mark_done` leaves a small
progress file naming the plan's fingerprint, so a rerun of the same plan skips
the shard (:func:`done_entries`); :func:`remove_stale` clears what an older plan
or a killed run left. Both runners (local, :mod:`butterflyer.data.beam_runner`)
call these, which is why they write identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fsspec

from butterflyer.data.manifest import join
from butterflyer.data.tfrecord import frame
from butterflyer.fileio import atomic_open, atomic_write_json, is_remote

PROGRESS_DIR = "_progress"


def write_shard(output: str, name: str, payloads: Iterable[bytes]) -> dict[str, Any]:
    """Write one shard (atomically when local) and return its manifest entry."""
    digest, size, records = hashlib.sha256(), 0, 0
    target = join(output, name)
    opener = fsspec.open(target, "wb") if is_remote(output) else atomic_open(target, "wb")
    with opener as fh:
        for payload in payloads:
            framed = frame(payload)
            fh.write(framed)
            digest.update(framed)
            size += len(framed)
            records += 1
    if not is_remote(output):
        os.chmod(target, 0o644)  # temp files are private; shards are for every reader
    return {"name": name, "records": records, "bytes": size, "sha256": digest.hexdigest()}


def _progress_path(output: str, name: str) -> str:
    return join(join(output, PROGRESS_DIR), f"{name}.json")


def mark_done(output: str, entry: dict[str, Any], fingerprint: str) -> None:
    """Record a finished shard so a rerun with the same fingerprint skips it."""
    info = dict(entry, fingerprint=fingerprint)
    path = _progress_path(output, entry["name"])
    if is_remote(output):
        with fsspec.open(path, "w") as fh:
            fh.write(json.dumps(info))
    else:
        atomic_write_json(path, info)


def done_entries(output: str, fingerprint: str) -> dict[str, dict[str, Any]]:
    """Finished shards of this fingerprint whose file is still there with the right size."""
    fs, root = fsspec.core.url_to_fs(output)
    progress = f"{root.rstrip('/')}/{PROGRESS_DIR}"
    if not fs.exists(progress):
        return {}
    sizes = {Path(i["name"]).name: int(i.get("size") or 0) for i in fs.ls(root, detail=True)}
    done = {}
    for info in fs.ls(progress, detail=True):
        try:
            with fs.open(info["name"], "rb") as fh:
                entry = json.loads(fh.read().decode("utf-8"))
        except (ValueError, OSError):
            continue
        if entry.get("fingerprint") == fingerprint and sizes.get(entry.get("name")) == entry.get("bytes"):
            entry.pop("fingerprint")
            done[entry["name"]] = entry
    return done


def remove_stale(output: str, keep: set[str]) -> None:
    """Remove shards of older plans, temp files of killed runs and the progress folder."""
    fs, root = fsspec.core.url_to_fs(output)
    for info in fs.ls(root, detail=True):
        name = Path(info["name"]).name
        stale_temp = name.startswith(".") and name.endswith(".tmp") and ".tfrecord." in name
        if (name.endswith(".tfrecord") and name not in keep) or stale_temp:
            fs.rm(info["name"])
    progress = f"{root.rstrip('/')}/{PROGRESS_DIR}"
    if fs.exists(progress):
        fs.rm(progress, recursive=True)
