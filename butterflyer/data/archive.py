"""Safe extraction of .zip and .tar(.gz/.bz2/.xz) archives.

Every entry is checked before anything is written: names that would land outside
the target (``../``, absolute paths, drive letters), links and device files are
refused, and so are archive bombs (too many entries, too many bytes in total, or
a compression ratio no photo collection has). While extracting, each entry's
actual size is counted again, because headers can lie.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from butterflyer.errors import ArchiveError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """Bomb guards: the defaults fit a 100 GB photo collection with room to spare."""

    max_total_bytes: int = 256 * (1 << 30)
    max_entries: int = 5_000_000
    max_ratio: float = 100.0  # uncompressed / compressed, for the whole archive and for big entries
    ratio_min_bytes: int = 16 << 20  # entries smaller than this are not ratio-checked alone


@dataclass(frozen=True)
class Entry:
    """One file to extract: its safe relative name and declared sizes."""

    name: str
    size: int
    compressed: int


def is_archive(name: str) -> bool:
    """True when ``name`` ends with a supported archive suffix."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def safe_name(name: str, archive: str) -> str | None:
    """The entry's normalised relative path, ``None`` for a folder entry; refuses escapes."""
    cleaned = name.replace("\\", "/")
    how = "Repack the archive with relative paths inside one folder (e.g. 'zip -r data.zip butterflies/')."
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise ArchiveError(
            f"{archive}: entry '{name}' is an absolute path and would be written outside "
            f"the target folder; refused. {how}"
        )
    parts = [p for p in PurePosixPath(cleaned).parts if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(
            f"{archive}: entry '{name}' climbs out of the target folder with '..'; refused. {how}"
        )
    if not parts or cleaned.endswith("/"):
        return None
    return "/".join(parts)


def _check_totals(entries: list[Entry], archive_bytes: int, limits: ArchiveLimits, archive: str) -> None:
    total = sum(e.size for e in entries)
    if len(entries) > limits.max_entries:
        raise ArchiveError(
            f"{archive}: {len(entries):,} entries is over the limit of {limits.max_entries:,} "
            "(archive bomb guard). Raise ArchiveLimits.max_entries if this is genuine."
        )
    if total > limits.max_total_bytes:
        raise ArchiveError(
            f"{archive}: it would expand to {total:,} bytes, over the limit of "
            f"{limits.max_total_bytes:,} (archive bomb guard). Raise the limit if this is genuine."
        )
    if total > limits.ratio_min_bytes and total > limits.max_ratio * max(1, archive_bytes):
        raise ArchiveError(
            f"{archive}: it would expand {total / max(1, archive_bytes):.0f}x "
            f"(limit {limits.max_ratio:.0f}x); that is an archive bomb, not photos. Refused."
        )
    for e in entries:
        if e.size > limits.ratio_min_bytes and e.size > limits.max_ratio * max(1, e.compressed):
            raise ArchiveError(
                f"{archive}: entry '{e.name}' expands {e.size / max(1, e.compressed):.0f}x "
                f"(limit {limits.max_ratio:.0f}x); archive bomb refused."
            )


def _zip_entries(zf: zipfile.ZipFile, archive: str) -> list[tuple[Entry, zipfile.ZipInfo]]:
    out = []
    for info in zf.infolist():
        mode = (info.external_attr >> 16) & 0o170000
        if mode == stat.S_IFLNK:
            raise ArchiveError(
                f"{archive}: entry '{info.filename}' is a symbolic link; links are refused "
                "because they can point outside the target. Repack without links."
            )
        name = safe_name(info.filename, archive)
        if name is None or info.is_dir():
            continue
        out.append((Entry(name, info.file_size, info.compress_size), info))
    return out


def _tar_entries(tf: tarfile.TarFile, archive: str) -> list[tuple[Entry, tarfile.TarInfo]]:
    out = []
    for member in tf.getmembers():
        if member.issym() or member.islnk():
            raise ArchiveError(
                f"{archive}: entry '{member.name}' is a link to '{member.linkname}'; links are "
                "refused because they can point outside the target. Repack without links."
            )
        if member.isdir():
            safe_name(member.name, archive)
            continue
        if not member.isfile():
            raise ArchiveError(
                f"{archive}: entry '{member.name}' is a device, FIFO or other special file; "
                "refused. Repack with regular files only."
            )
        name = safe_name(member.name, archive)
        if name is not None:
            out.append((Entry(name, member.size, member.size), member))
    return out


@contextmanager
def _open_archive(path: Path) -> Iterator[tuple[str, zipfile.ZipFile | tarfile.TarFile]]:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                yield "zip", zf
            return
        if tarfile.is_tarfile(path):
            with tarfile.open(path, "r:*") as tf:
                yield "tar", tf
            return
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(
            f"{path}: the archive is corrupt or truncated ({exc}). Download or pack it again."
        ) from exc
    raise ArchiveError(f"{path} is neither a zip nor a tar archive. Give a folder, .zip, .tar or .tar.gz.")


def _copy_limited(src: IO[bytes], dst: IO[bytes], declared: int, name: str, archive: str) -> str:
    digest, written = hashlib.sha256(), 0
    for block in iter(lambda: src.read(_CHUNK), b""):
        written += len(block)
        if written > declared:
            raise ArchiveError(
                f"{archive}: entry '{name}' holds more bytes than its header declares; "
                "the archive is corrupt or malicious. Refused."
            )
        digest.update(block)
        dst.write(block)
    return digest.hexdigest()


def extract_archive(
    path: Path,
    target: Path,
    limits: ArchiveLimits = ArchiveLimits(),
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, object]]:
    """Check then extract ``path`` into ``target``; returns ``[{path, size, sha256}]``."""
    archive = str(path)
    archive_bytes = path.stat().st_size
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    files: list[dict[str, object]] = []
    try:
        with _open_archive(path) as (_kind, handle):
            pairs: list[tuple[Entry, Any]]
            if isinstance(handle, zipfile.ZipFile):
                pairs = list(_zip_entries(handle, archive))
                entries = [e for e, _ in pairs]
            else:
                pairs = list(_tar_entries(handle, archive))
                entries = [Entry(e.name, e.size, archive_bytes) for e, _ in pairs]
            _check_totals(entries, archive_bytes, limits, archive)
            seen: set[str] = set()
            for entry, info in pairs:
                dest = (root / entry.name).resolve()
                if root not in dest.parents:
                    raise ArchiveError(
                        f"{archive}: entry '{entry.name}' resolves outside the target; refused."
                    )
                if entry.name in seen:
                    raise ArchiveError(
                        f"{archive}: entry '{entry.name}' appears twice; refused as ambiguous."
                    )
                seen.add(entry.name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = handle.open(info) if isinstance(handle, zipfile.ZipFile) else handle.extractfile(info)
                if src is None:
                    continue
                with src, open(dest, "wb") as out:
                    digest = _copy_limited(src, out, entry.size, entry.name, archive)
                os.chmod(dest, 0o444)
                files.append({"path": entry.name, "size": entry.size, "sha256": digest})
                if progress:
                    progress(1)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib_error()) as exc:
        raise ArchiveError(
            f"{archive}: the archive is corrupt or truncated ({exc}). Download or pack it again."
        ) from exc
    return files


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
