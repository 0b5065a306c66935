"""The records manifest: the one file that says a records folder is complete.

``build-records`` writes ``manifest.json`` last, after every shard is in place,
so a reader that finds it can trust the shards it lists. Readers call
:func:`read_manifest`, which refuses a folder without a complete manifest or with
a listed shard missing or the wrong size. :func:`manifest_sha256` is the lineage
id models record (``ModelMeta.data_manifest_sha256``): a hash of the content
(labels, shards and their hashes, settings), not of timestamps or the runner.

Works for local folders and any fsspec URI (``gs://``, ``s3://``, ``memory://``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import fsspec

from butterflyer.errors import DataError
from butterflyer.fileio import atomic_write_json, is_remote

MANIFEST_NAME = "manifest.json"
FORMAT = "butterflyer-tfrecord"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
# Keys that describe how or when a build ran, not what it produced.
VOLATILE_KEYS = ("created", "runner", "timings", "source")


def join(uri: str, name: str) -> str:
    """``uri/name`` for local paths and fsspec URIs alike."""
    return f"{uri.rstrip('/')}/{name}" if is_remote(uri) else str(Path(uri) / name)


def write_manifest(uri: str, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (temp + rename locally; single-object upload on buckets)."""
    if is_remote(uri):
        with fsspec.open(join(uri, MANIFEST_NAME), "w") as fh:
            fh.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    else:
        os.chmod(atomic_write_json(join(uri, MANIFEST_NAME), manifest), 0o644)


def remove_manifest(uri: str) -> None:
    """Delete the manifest so a folder being rewritten never looks complete."""
    fs, path = fsspec.core.url_to_fs(join(uri, MANIFEST_NAME))
    if fs.exists(path):
        fs.rm(path)


def has_manifest(uri: str) -> bool:
    """Whether ``uri`` holds a manifest file at all, readable or not."""
    fs, path = fsspec.core.url_to_fs(join(uri, MANIFEST_NAME))
    return bool(fs.exists(path))


def load_raw_manifest(uri: str) -> dict[str, Any] | None:
    """The manifest as stored, or ``None`` when there is none (no checks)."""
    fs, path = fsspec.core.url_to_fs(join(uri, MANIFEST_NAME))
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as fh:
        try:
            return json.loads(fh.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None


def read_manifest(uri: str | Path, check_shards: bool = True) -> dict[str, Any]:
    """Load and validate a records manifest, or raise :class:`DataError` saying how to fix it.

    With ``check_shards`` every listed shard must exist with the recorded size
    (one folder listing, cheap on buckets too).
    """
    uri = str(uri)
    manifest = load_raw_manifest(uri)
    fix = f"Run 'butterflyer data build-records --output {uri}' (it resumes an interrupted build)."
    if manifest is None:
        raise DataError(
            f"{uri} has no readable {MANIFEST_NAME}, so it is not a complete records folder. {fix}"
        )
    if manifest.get("format") != FORMAT or not manifest.get("complete"):
        raise DataError(f"{uri}/{MANIFEST_NAME} is not a complete {FORMAT} manifest. {fix}")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(
            f"{uri} was written by a newer ButterFlyer (format {manifest['format_version']}); "
            "upgrade ButterFlyer to read it."
        )
    for key in ("labels", "splits"):
        if key not in manifest:
            raise DataError(f"{uri}/{MANIFEST_NAME} lacks '{key}'. {fix}")
    if check_shards:
        fs, root = fsspec.core.url_to_fs(uri)
        try:
            sizes = {Path(info["name"]).name: int(info.get("size") or 0) for info in fs.ls(root, detail=True)}
        except FileNotFoundError as exc:
            raise DataError(f"{uri} does not exist. {fix}") from exc
        for split, info in manifest["splits"].items():
            for shard in info["shards"]:
                size = sizes.get(shard["name"])
                if size is None:
                    raise DataError(f"{uri}: shard {shard['name']} ({split}) is missing. {fix}")
                if size != int(shard["bytes"]):
                    raise DataError(
                        f"{uri}: shard {shard['name']} has {size} bytes, the manifest says "
                        f"{shard['bytes']}; the folder was changed after it was built. {fix}"
                    )
    return manifest


def content_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's content keys, serialized canonically."""
    content = {k: v for k, v in manifest.items() if k not in VOLATILE_KEYS}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def manifest_sha256(uri: str | Path) -> str:
    """Lineage id of a records folder: the same data and settings always give the same id."""
    return content_digest(read_manifest(str(uri), check_shards=False))


def split_shards(manifest: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """The shard entries of ``split``, or a :class:`DataError` naming the splits that exist."""
    splits = manifest["splits"]
    if split not in splits:
        raise DataError(f"split '{split}' is not in these records; they hold {sorted(splits)}.")
    return list(splits[split]["shards"])
