"""Decode one image safely: the single place bytes become an RGB picture.

Used by ``prepare`` (quarantine reasons), ``build-records`` and the API (HTTP
status per reason). Every failure is an :class:`ImageError` with a short reason:

- ``empty``: zero bytes
- ``not_an_image``: the bytes are not a known image format (sniffed, never the name)
- ``truncated``: the file ends early or is corrupt
- ``too_small``: either side below ``min_side``
- ``too_large``: more than ``max_pixels`` (decompression bombs)
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from butterflyer.errors import ImageError

DEFAULT_MIN_SIDE = 32
DEFAULT_MAX_PIXELS = 40_000_000

ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class DecodeLimits:
    min_side: int = DEFAULT_MIN_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS


def sniff_format(data: bytes) -> str | None:
    """Image format from magic bytes (JPEG, PNG, GIF, WebP, BMP, TIFF), else ``None``."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def to_rgb(img: Image.Image) -> Image.Image:
    """Apply EXIF orientation and convert any mode (CMYK, P, LA, RGBA, I;16, ...) to 8-bit RGB.

    Transparent pixels are composited on white, which is how people see them.
    """
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = float(arr.max()) or 1.0
        img = Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB") if img.mode != "RGB" else img


def open_checked(data: bytes, limits: DecodeLimits = DecodeLimits()) -> Image.Image:
    """Open (header only) and check size limits before any pixel is decoded."""
    if not data:
        raise ImageError("empty", "the file is empty")
    if sniff_format(data) is None:
        raise ImageError("not_an_image", "the bytes are not a JPEG, PNG, GIF, WebP, BMP or TIFF image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("too_large", f"the image is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:  # its message is only the BytesIO's repr
        raise ImageError("truncated", "the image header cannot be read: the file is corrupt or "
                         "not really an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError("truncated", f"the image header cannot be read ({exc})") from exc
    width, height = img.size
    if width * height > limits.max_pixels:
        raise ImageError("too_large", f"{width}x{height} is over the limit of {limits.max_pixels:,} pixels")
    if min(width, height) < limits.min_side:
        raise ImageError("too_small", f"{width}x{height} is under the minimum side of {limits.min_side} px")
    return img


def decode_image(data: bytes, limits: DecodeLimits = DecodeLimits(),
                 draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Fully decode ``data`` to an upright RGB image, or raise :class:`ImageError`.

    ``draft_size`` lets JPEG decoding use DCT scaling (only ever to a size at least
    that large), the main speed lever for camera-size photos.
    """
    img = open_checked(data, limits)
    try:
        if draft_size is not None and img.format == "JPEG":
            img.draft("RGB", draft_size)
        img.load()
        return to_rgb(img)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError("truncated", f"the image is truncated or corrupt ({exc})") from exc
