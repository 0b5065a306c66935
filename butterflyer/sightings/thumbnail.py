"""Small JPEG thumbnails that carry no metadata (no GPS, no camera serial, nothing).

The photo is decoded, turned upright and re-encoded from pixels only, so nothing
from the original EXIF/XMP/ICC blocks survives into what is stored.
"""

from __future__ import annotations

import io

from butterflyer.data.images import DecodeLimits, decode_image

THUMB_SIDE = 320


def make_thumbnail(data: bytes, side: int = THUMB_SIDE, limits: DecodeLimits = DecodeLimits()) -> bytes:
    """A JPEG at most ``side`` px on its longer side (raises ``ImageError`` for unusable bytes)."""
    img = decode_image(data, limits, draft_size=(side, side))
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80, optimize=True)  # no exif=/icc_profile=: pixels only
    return out.getvalue()
