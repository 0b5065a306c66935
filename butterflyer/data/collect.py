"""``collect``: bring a source of photos into ``raw/``, read-only, with a manifest.

Usage::

    from butterflyer.data.collect import collect
    info = collect("../shared/datasets/butterflies-100.zip")   # or a folder, URL, gs://, memory://

A source is a local folder, a .zip/.tar/.tar.gz archive, an http(s) URL of an
archive or a file, or any fsspec URI of a folder or an archive. It lands in
``raw/<name>-<id>/`` (files made read-only) next to ``raw/<name>-<id>.json``
listing every file with its size and sha256; ``raw/latest.json`` names the most
recent collection, which ``prepare`` uses by default. An archive found inside the
source (a zip in a zip) is extracted once, into a folder named after it, so its
class folders are read as classes rather than the whole archive becoming one file. Collecting the same,
unchanged source again does no work: a cheap fingerprint (sizes, mtimes, ETags)
is compared before anything is copied or hashed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec

from butterflyer import paths
from butterflyer.data.archive import ARCHIVE_SUFFIXES, ArchiveLimits, extract_archive, is_archive
from butterflyer.errors import SourceError
from butterflyer.fileio import atomic_write_json, is_remote, read_json

LATEST = "latest.json"
Progress = Callable[[int], None]


def source_id(source: str) -> str:
    """Folder name for a source: a readable slug plus a hash of its location."""
    canonical = source if is_remote(source) else str(Path(source).expanduser().resolve())
    base = re.sub(
        r"(\.tar)?\.(zip|tar|tgz|gz|bz2|xz|tbz2|txz)$",
        "",
        canonical.rstrip("/").rsplit("/", 1)[-1],
        flags=re.I,
    )
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.")[:40] or "source"
    return f"{slug}-{hashlib.sha256(canonical.encode()).hexdigest()[:10]}"


def _local_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_file():
        st = path.stat()
        digest.update(f"file|{st.st_size}|{st.st_mtime_ns}".encode())
    else:
        for item in sorted(path.rglob("*")):
            if item.is_file() and not item.is_symlink():
                st = item.stat()
                digest.update(f"{item.relative_to(path).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _remote_fingerprint(fs: Any, path: str) -> str:
    digest = hashlib.sha256()
    infos = (
        [fs.info(path)]
        if fs.isfile(path)
        else sorted(fs.find(path, detail=True).values(), key=lambda i: i["name"])
    )
    for info in infos:
        tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("mtime") or ""
        digest.update(f"{info['name']}|{info.get('size')}|{tag}\n".encode())
    return digest.hexdigest()


def _fingerprint(source: str) -> str:
    if is_remote(source):
        fs, path = fsspec.core.url_to_fs(source)
        try:
            return _remote_fingerprint(fs, path)
        except (FileNotFoundError, OSError) as exc:
            raise SourceError(
                f"cannot read {source} ({exc}). Check the URI and your credentials "
                "(e.g. GOOGLE_APPLICATION_CREDENTIALS, AWS_PROFILE)."
            ) from exc
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(f"{source} does not exist. Give a folder, an archive, a URL or a bucket URI.")
    return _local_fingerprint(path)


def _copy_folder(src: Path, dest: Path, progress: Progress | None) -> tuple[list[dict[str, Any]], list[dict]]:
    files, skipped = [], []
    for item in sorted(src.rglob("*")):
        rel = item.relative_to(src).as_posix()
        if item.is_symlink():
            skipped.append({"path": rel, "reason": "symlink (not followed, so nothing outside is read)"})
            continue
        if not item.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(item, "rb") as fin, open(target, "wb") as fout:
            for block in iter(functools.partial(fin.read, 1 << 20), b""):
                digest.update(block)
                fout.write(block)
        os.chmod(target, 0o444)
        files.append({"path": rel, "size": target.stat().st_size, "sha256": digest.hexdigest()})
        if progress:
            progress(1)
    return files, skipped


def _download(fs: Any, path: str, dest: Path) -> None:
    with fs.open(path, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def _fetch_remote(
    source: str, staging: Path, tmp: Path, limits: ArchiveLimits, progress: Progress | None
) -> list[dict[str, Any]]:
    fs, path = fsspec.core.url_to_fs(source)
    if fs.isfile(path) or source.startswith(("http://", "https://")):
        name = path.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "download"
        local = tmp / name
        _download(fs, path, local)
        if is_archive(name):
            return extract_archive(local, staging, limits, progress)
        local_files, _ = _copy_folder(tmp, staging, progress)
        return local_files
    fetched = tmp / "tree"
    base = path.rstrip("/")
    for remote in sorted(fs.find(path)):
        rel = remote[len(base) :].lstrip("/")
        if not rel or ".." in rel.split("/"):
            continue
        (fetched / rel).parent.mkdir(parents=True, exist_ok=True)
        _download(fs, remote, fetched / rel)
    files, _ = _copy_folder(fetched, staging, progress)
    return files


def _archive_stem(name: str) -> str:
    lower = name.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)] or "archive"
    return name


def _expand_nested(staging: Path, files: list[dict[str, Any]], limits: ArchiveLimits,
                   progress: Progress | None) -> list[dict[str, Any]]:
    """Replace each archive inside the source by its extracted folder (one level deep)."""
    out: list[dict[str, Any]] = []
    for entry in files:
        rel = str(entry["path"])
        if not is_archive(rel):
            out.append(entry)
            continue
        archive = staging / rel
        target = archive.parent / _archive_stem(archive.name)
        if target.exists():
            raise SourceError(
                f"{rel} is an archive inside the source, and a folder '{target.name}' already sits "
                "beside it; extract it yourself or rename one of them."
            )
        inner = extract_archive(archive, target, limits, progress)
        archive.unlink()
        prefix = target.relative_to(staging).as_posix()
        out.extend(dict(f, path=f"{prefix}/{f['path']}") for f in inner)
    return out


def _make_writable(folder: Path) -> None:
    for item in folder.rglob("*"):
        if item.is_file():
            item.chmod(item.stat().st_mode | stat.S_IWUSR)


def collect(
    source: str | Path,
    limits: ArchiveLimits = ArchiveLimits(),
    progress: Progress | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Copy or extract ``source`` into ``raw/`` and return its manifest (``collected: false`` when reused)."""
    source = str(source)
    raw = paths.raw_dir()
    sid = source_id(source)
    folder, manifest_path = raw / sid, raw / f"{sid}.json"
    fingerprint = _fingerprint(source)
    if not force and manifest_path.is_file() and folder.is_dir():
        previous = read_json(manifest_path)
        if previous.get("fingerprint") == fingerprint:
            atomic_write_json(raw / LATEST, {"id": sid})
            return dict(previous, collected=False)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{sid}.", dir=raw) as tmpdir:
        tmp = Path(tmpdir)
        staging = tmp / "staging"
        staging.mkdir()
        skipped: list[dict] = []
        if is_remote(source):
            (tmp / "dl").mkdir()
            files = _fetch_remote(source, staging, tmp / "dl", limits, progress)
        else:
            local = Path(source).expanduser()
            if local.is_dir():
                files, skipped = _copy_folder(local, staging, progress)
            elif is_archive(local.name) or local.suffix == "":
                files = extract_archive(local, staging, limits, progress)
            else:
                raise SourceError(
                    f"{source} is a single file, not a folder or an archive. "
                    "Put the photos in class folders, or zip them."
                )
        files = _expand_nested(staging, files, limits, progress)
        if not files:
            raise SourceError(f"{source} holds no files. Point collect at the folder or archive of photos.")
        if folder.exists():
            _make_writable(folder)
            shutil.rmtree(folder)
        os.replace(staging, folder)
    manifest = {
        "id": sid,
        "source": source,
        "fingerprint": fingerprint,
        "root": str(folder),
        "count": len(files),
        "bytes": sum(int(f["size"]) for f in files),
        "files": files,
        "skipped": skipped,
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - started, 3),
    }
    atomic_write_json(manifest_path, manifest)
    atomic_write_json(raw / LATEST, {"id": sid})
    return dict(manifest, collected=True)


def latest_raw() -> tuple[Path, dict[str, Any]]:
    """The most recently collected source: its folder and manifest."""
    raw = paths.raw_dir()
    pointer = raw / LATEST
    if not pointer.is_file():
        raise SourceError(
            f"nothing has been collected into {raw}. Run 'butterflyer data collect SOURCE' first."
        )
    sid = json.loads(pointer.read_text(encoding="utf-8"))["id"]
    manifest_path = raw / f"{sid}.json"
    if not manifest_path.is_file() or not (raw / sid).is_dir():
        raise SourceError(f"{raw / sid} is incomplete. Run 'butterflyer data collect SOURCE --force'.")
    return raw / sid, read_json(manifest_path)
