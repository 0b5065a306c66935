"""The per-image function of ``build-records``: one source photo to one serialized Example.

Both runners (local process pool and Apache Beam) call :func:`make_example`, so
they write the same bytes. Speed comes from JPEG draft mode: the decoder scales
the DCT by 1/2, 1/4 or 1/8 while decoding, so a 4000x3000 photo headed for a
256-pixel shorter side is never decoded at full size. A source JPEG that already
fits, is RGB and upright is stored as is: decoding it gives exactly the pixels a
re-encode would only have degraded.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import Any

import fsspec
from PIL import Image

from butterflyer.data.images import DecodeLimits, open_checked, to_rgb
from butterflyer.data.tfrecord import encode_example
from butterflyer.errors import DataError, ImageError
from butterflyer.fileio import is_remote, sha256_bytes

_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class RecordsConfig:
    """Settings of ``build-records`` (saved in the manifest).

    ``shorter_side``: resize so the shorter side is at most this (never upscale).
    ``shard_mb``: target shard size; ``shard_multiple`` rounds each split's shard
    count up to a multiple (e.g. ranks x workers, so readers can split by shard).
    ``seed`` orders the examples before sharding, so each shard mixes classes.
    ``workers``: processes for the local runner (``None`` = all cores); not part
    of the output, so it is left out of the fingerprint.
    """

    shorter_side: int = 256
    jpeg_quality: int = 90
    shard_mb: float = 128.0
    shard_multiple: int = 1
    seed: int = 0
    passthrough: bool = True
    max_pixels: int = DecodeLimits().max_pixels
    workers: int | None = None

    def output_settings(self) -> dict[str, Any]:
        """Settings that change the output bytes (manifest + fingerprint)."""
        settings = asdict(self)
        settings.pop("workers")
        return settings


def read_source(path: str) -> bytes:
    """Bytes of a local file or an fsspec URI."""
    if is_remote(path):
        with fsspec.open(path, "rb") as fh:
            return fh.read()
    with open(path, "rb") as fh:
        return fh.read()


def target_size(width: int, height: int, shorter_side: int) -> tuple[int, int]:
    """Size with the shorter side at most ``shorter_side``, aspect kept, never larger."""
    scale = min(1.0, shorter_side / min(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_image(data: bytes, config: RecordsConfig) -> tuple[bytes, int, int]:
    """``(jpeg_bytes, width, height)`` for the records; raises :class:`ImageError` on bad input."""
    img = open_checked(data, DecodeLimits(min_side=1, max_pixels=config.max_pixels))
    orientation = int(img.getexif().get(_ORIENTATION_TAG, 1) or 1)
    width, height = img.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    out_w, out_h = target_size(width, height, config.shorter_side)
    if (
        config.passthrough
        and img.format == "JPEG"
        and img.mode == "RGB"
        and orientation == 1
        and (out_w, out_h) == (width, height)
    ):
        return data, width, height
    try:
        if img.format == "JPEG" and (out_w, out_h) != (width, height):
            stored = (out_w, out_h) if orientation not in (5, 6, 7, 8) else (out_h, out_w)
            img.draft(None, stored)
        img.load()
        rgb = to_rgb(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError("truncated", f"the image is truncated or corrupt ({exc})") from exc
    if rgb.size != (out_w, out_h):
        rgb = rgb.resize((out_w, out_h), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=config.jpeg_quality, optimize=False)
    return buf.getvalue(), out_w, out_h


def make_example(row: dict[str, Any], config: RecordsConfig) -> bytes:
    """Serialized ``tf.train.Example`` for one interim row (see ``interim.COLUMNS``)."""
    data = read_source(row["path"])
    digest = sha256_bytes(data)
    if row.get("sha256") and digest != row["sha256"]:
        raise DataError(
            f"{row['path']} changed since 'prepare' checked it (sha256 differs). "
            "Run 'butterflyer data prepare' again."
        )
    try:
        encoded, width, height = encode_image(data, config)
    except ImageError as exc:
        raise DataError(
            f"{row['path']} passed 'prepare' but cannot be encoded now: {exc}. "
            "Run 'butterflyer data prepare' again."
        ) from exc
    return encode_example(
        {
            "image/encoded": encoded,
            "image/format": b"jpeg",
            "image/class/label": int(row["label_index"]),
            "image/class/text": row["label"],
            "image/height": height,
            "image/width": width,
            "image/sha256": digest,
            "image/filename": row["key"],
        }
    )


def estimate_record_bytes(row: dict[str, Any], config: RecordsConfig) -> float:
    """Rough size of a row's record, used only to choose the number of shards."""
    width, height = int(row["width"]), int(row["height"])
    out_w, out_h = target_size(width, height, config.shorter_side)
    if (out_w, out_h) == (width, height) and int(row.get("bytes") or 0) > 0:
        return int(row["bytes"]) + 200.0
    # About 0.35 byte per pixel for photos at quality ~90 (4:2:0); plus the Example's own fields.
    return out_w * out_h * 0.35 * (1 + max(0, config.jpeg_quality - 90) / 10) + 200.0
