"""Check one image for ``prepare``: full decode, size limits, content and perceptual hashes.

:func:`check_image` runs in worker processes and never raises for bad input: it
returns a :class:`Checked` with either the facts ``prepare`` needs (sha256,
upright size, 64-bit perceptual hash) or a quarantine reason from
:mod:`butterflyer.data.images` (``empty``, ``not_an_image``, ``truncated``,
``too_small``, ``too_large``) or ``unreadable`` for I/O errors.
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
    out.phash = perceptual_hash(img)
    return out
