"""collect: folders, archives, buckets and URLs into raw/, safely and only once."""

from __future__ import annotations

import functools
import http.server
import io
import os
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

import fsspec
import pytest

from butterflyer.data.archive import ArchiveLimits
from butterflyer.data.collect import collect, latest_raw
from butterflyer.errors import ArchiveError, SourceError


@pytest.fixture
def photo_folder(tmp_path: Path, save_image) -> Path:
    root = tmp_path / "photos"
    for i, label in enumerate(["MONARCH", "ADMIRAL"]):
        for k in range(2):
            save_image(root / label / f"{k}.jpg", seed=10 * i + k)
    return root


def _zip_of(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"pack/{p.relative_to(folder).as_posix()}")
    return target


def _names(info: dict) -> set[str]:
    return {f["path"] for f in info["files"]}


def test_folder_is_copied_read_only_with_manifest_and_reused(photo_folder: Path):
    info = collect(photo_folder)
    assert info["collected"] and info["count"] == 4
    assert _names(info) == {"MONARCH/0.jpg", "MONARCH/1.jpg", "ADMIRAL/0.jpg", "ADMIRAL/1.jpg"}
    root = Path(info["root"])
    for entry in info["files"]:
        f = root / entry["path"]
        assert f.stat().st_size == entry["size"] and len(entry["sha256"]) == 64
        assert not f.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    again = collect(photo_folder)
    assert again["collected"] is False and again["files"] == info["files"]
    assert latest_raw()[0] == root
    # A changed source is collected again.
    (photo_folder / "ADMIRAL" / "2.jpg").write_bytes((photo_folder / "ADMIRAL" / "0.jpg").read_bytes())
    assert collect(photo_folder)["count"] == 5


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_archives_are_extracted(photo_folder: Path, tmp_path: Path, kind: str):
    target = tmp_path / f"photos.{kind}"
    if kind == "zip":
        _zip_of(photo_folder, target)
    else:
        with tarfile.open(target, "w:gz" if kind == "tar.gz" else "w") as tf:
            tf.add(photo_folder, arcname="pack")
    info = collect(target)
    assert info["count"] == 4 and "pack/MONARCH/0.jpg" in _names(info)
    assert collect(target)["collected"] is False


def _zip_with(path: Path, name: str, data: bytes = b"x", symlink: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, data)
    return path


@pytest.mark.parametrize("name", ["../evil.jpg", "/etc/evil.jpg", "a/../../evil.jpg", "C:/evil.jpg"])
def test_zip_entries_escaping_the_target_are_refused(tmp_path: Path, name: str):
    with pytest.raises(ArchiveError, match="refused"):
        collect(_zip_with(tmp_path / "bad.zip", name))
    assert not (tmp_path / "evil.jpg").exists()


def test_links_in_archives_are_refused(tmp_path: Path):
    with pytest.raises(ArchiveError, match="link"):
        collect(_zip_with(tmp_path / "link.zip", "a/link.jpg", b"/etc/passwd", symlink=True))
    tar_path = tmp_path / "link.tar"
    with tarfile.open(tar_path, "w") as tf:
        info = tarfile.TarInfo("a/link.jpg")
        info.type, info.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tf.addfile(info)
    with pytest.raises(ArchiveError, match="link"):
        collect(tar_path)
    tar_path = tmp_path / "escape.tar"
    with tarfile.open(tar_path, "w") as tf:
        data = b"boom"
        info = tarfile.TarInfo("../escape.jpg")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(ArchiveError, match="climbs out"):
        collect(tar_path)


def test_archive_bombs_are_refused(tmp_path: Path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (40 << 20))  # 40 MB of zeros compress ~1000x
    with pytest.raises(ArchiveError, match="bomb"):
        collect(bomb)
    small = _zip_with(tmp_path / "big.zip", "a/b.jpg", b"y" * 5000)
    with pytest.raises(ArchiveError, match="limit"):
        collect(small, limits=ArchiveLimits(max_total_bytes=1000))
    with pytest.raises(ArchiveError, match="entries"):
        collect(small, limits=ArchiveLimits(max_entries=0))


def test_corrupt_archive_and_missing_source_are_clear_errors(tmp_path: Path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArchiveError):
        collect(broken)
    with pytest.raises(SourceError, match="does not exist"):
        collect(tmp_path / "nowhere")


def test_bucket_folder_and_archive_through_fsspec_memory(photo_folder: Path, tmp_path: Path):
    fs = fsspec.filesystem("memory")
    for p in photo_folder.rglob("*.jpg"):
        fs.pipe(f"/bucket/photos/{p.relative_to(photo_folder).as_posix()}", p.read_bytes())
    info = collect("memory://bucket/photos")
    assert _names(info) == {"MONARCH/0.jpg", "MONARCH/1.jpg", "ADMIRAL/0.jpg", "ADMIRAL/1.jpg"}
    assert collect("memory://bucket/photos")["collected"] is False
    fs.pipe("/bucket/photos.zip", _zip_of(photo_folder, tmp_path / "p.zip").read_bytes())
    assert collect("memory://bucket/photos.zip")["count"] == 4
    fs.rm("/bucket", recursive=True)


def test_http_url_of_an_archive(photo_folder: Path, tmp_path: Path):
    served = tmp_path / "www"
    served.mkdir()
    _zip_of(photo_folder, served / "photos.zip")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/photos.zip"
        info = collect(url)
        assert info["count"] == 4 and "pack/ADMIRAL/1.jpg" in _names(info)
        assert collect(url)["collected"] is False
    finally:
        server.shutdown()
        thread.join()


def test_symlinks_in_a_folder_are_listed_not_followed(photo_folder: Path, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    os.symlink(secret, photo_folder / "MONARCH" / "link.jpg")
    info = collect(photo_folder)
    assert info["count"] == 4
    assert info["skipped"][0]["path"] == "MONARCH/link.jpg"
