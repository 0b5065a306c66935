"""Check one image for ``prepare``: full decode, size limits, content and perceptual hashes.

:func:`check_image` runs in worker processes and never raises for bad input: it
returns a :class:`Checked` with either the facts ``prepare`` needs (sha256,
upright size, 64-bit perceptual hash) or a quarantine reason from
:mod:`butterflyer.data.images` (``empty``, ``not_an_image``, ``truncated``,
``too_small``, ``too_large``), ``unreadable`` for I/O errors or
``truncated_or_blank_region``.

Lost JPEG data does not always fail to decode: a file whose second half was zeroed
(a broken copy or download) still ends with its end marker, decodes without an
error, and libjpeg paints everything after the damage one flat mid-grey. Such a
photo is caught by a cheap check on a small copy: a band at the bottom, at least
an eighth of the height, in which every pixel has the same colour (within 2 of 255)
is quarantined as ``truncated_or_blank_region``. Pure black or white bands
(letterboxing, studio backgrounds) are not flagged, and neither are dark or blank
skies (they are at the top, and real skies are never flat to 2 levels across the
whole width of a band that deep).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from butterflyer.data.images import DecodeLimits, decode_image, open_checked
from butterflyer.errors import ImageError
from butterflyer.fileio import sha256_bytes


@dataclass
class Checked:
    """The outcome of checking one file."""

    key: str
    sha256: str = ""
    bytes: int = 0
    width: int = 0
    height: int = 0
    mode: str = ""
    phash: int = 0
    reason: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def perceptual_hash(img: Image.Image) -> int:
    """64-bit DCT perceptual hash as an unsigned integer (robust to re-encoding and slight crops)."""
    small = img if max(img.size) <= 512 else img.resize((256, 256), Image.Resampling.BILINEAR)
    bits = imagehash.phash(small).hash.flatten()
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


BLANK_BAND_FRACTION = 1 / 8
_FLAT_LEVELS = 2
_CHECK_SIDE = 256


def blank_bottom_band(img: Image.Image) -> float:
    """Fraction of the height, from the bottom, that is one flat, neither black nor white colour."""
    small = img if max(img.size) <= _CHECK_SIDE else img.resize(
        (max(1, img.width * _CHECK_SIDE // max(img.size)), max(1, img.height * _CHECK_SIDE // max(img.size))),
        Image.Resampling.NEAREST)  # nearest keeps flat values flat and noise noisy
    pixels = np.asarray(small.convert("RGB"), dtype=np.int16)
    bottom = pixels[-1].reshape(-1, 3)
    colour = bottom.mean(axis=0)
    if colour.max() < 24 or colour.min() > 231:
        return 0.0
    flat_rows = 0
    for row in pixels[::-1]:
        if np.abs(row - colour).max() > _FLAT_LEVELS:
            break
        flat_rows += 1
    return flat_rows / pixels.shape[0]


def check_image(key: str, path: str, limits: DecodeLimits = DecodeLimits()) -> Checked:
    """Read, fully decode and hash one file; bad files come back with a reason."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Checked(key, reason="unreadable", detail=f"cannot read the file ({exc})")
    out = Checked(key, sha256=sha256_bytes(data), bytes=len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EXIF/ICC oddities are not reasons to drop a photo
            out.mode = open_checked(data, limits).mode
            img = decode_image(data, limits)
    except ImageError as exc:
        out.reason, out.detail = exc.reason, str(exc)
        return out
    except Exception as exc:  # a decoder bug on hostile bytes must quarantine, not crash the run
        out.reason, out.detail = "truncated", f"the decoder failed ({type(exc).__name__}: {exc})"
        return out
    out.width, out.height = img.size
    band = blank_bottom_band(img)
    if band >= BLANK_BAND_FRACTION:
        out.reason = "truncated_or_blank_region"
        out.detail = (f"the bottom {band:.0%} of the photo is one flat colour, the mark of lost or "
                      "zeroed data; copy the original file again")
        return out
    out.phash = perceptual_hash(img)
    return out
