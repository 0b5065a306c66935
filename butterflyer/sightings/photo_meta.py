"""When and where a photo was taken, from its EXIF, without ever failing.

Cameras and phones write ``DateTimeOriginal`` (+ ``OffsetTimeOriginal``) and a
GPS IFD. Anything odd (a huge block, IFDs that point at each other, text where
numbers belong, impossible dates or coordinates) means the field is missing, never
an error: a photo's metadata must not stop its identification.

>>> read_photo_meta(open("photo.jpg", "rb").read())
PhotoMeta(taken_at='2024-06-01T10:30:00+02:00', latitude=46.2, longitude=6.1)
"""

from __future__ import annotations

import io
import logging
import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)

MAX_EXIF_BYTES = 256 * 1024  # a phone writes ~10-60 kB; more is padding or an attack
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME, DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x0132, 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")


@dataclass(frozen=True)
class PhotoMeta:
    """What the EXIF says, each field ``None`` when absent or unusable."""

    taken_at: str | None = None  # ISO 8601, with the UTC offset when the camera wrote one
    latitude: float | None = None
    longitude: float | None = None


def read_photo_meta(data: bytes) -> PhotoMeta:
    """The photo's time and position; an empty :class:`PhotoMeta` on any problem."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on every corrupt block it skips
            img = Image.open(io.BytesIO(data))
            raw = img.info.get("exif")
            if isinstance(raw, bytes | bytearray) and len(raw) > MAX_EXIF_BYTES:
                return PhotoMeta()
            exif = img.getexif()
            exif_ifd = _ifd(exif, EXIF_IFD)
            gps_ifd = _ifd(exif, GPS_IFD)
            taken = _taken_at(exif_ifd.get(DATETIME_ORIGINAL) or exif.get(DATETIME),
                              exif_ifd.get(OFFSET_TIME_ORIGINAL))
            lat = _coordinate(gps_ifd.get(GPS_LAT), gps_ifd.get(GPS_LAT_REF), "NS", 90.0)
            lon = _coordinate(gps_ifd.get(GPS_LON), gps_ifd.get(GPS_LON_REF), "EW", 180.0)
    # Pillow's EXIF reader raises many kinds of errors on crafted input (struct, recursion,
    # key, type, value, OS errors); the promise here is that none of them reaches the caller.
    except Exception as exc:  # noqa: BLE001
        log.debug("EXIF unreadable, ignored: %s", exc)
        return PhotoMeta()
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):  # 0,0 is what cameras write without a fix
        lat = lon = None
    return PhotoMeta(taken_at=taken, latitude=lat, longitude=lon)


def _ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        found = exif.get_ifd(tag)
    except Exception:  # noqa: BLE001 - a broken sub-IFD only loses its own fields
        return {}
    return found if isinstance(found, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ").strip() or None


def _taken_at(value: Any, offset: Any) -> str | None:
    text = _text(value)
    if text is None or len(text) > 40:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not 1900 <= moment.year <= 2200:
        return None
    iso = moment.isoformat()
    zone = _text(offset)
    return iso + zone if zone and _OFFSET.match(zone) else iso


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _coordinate(value: Any, ref: Any, hemispheres: str, limit: float) -> float | None:
    """Degrees, minutes, seconds (+ N/S or E/W) to signed decimal degrees."""
    if not isinstance(value, tuple | list) or not 1 <= len(value) <= 3:
        return None
    parts = [n for n in (_number(v) for v in value) if n is not None and n >= 0]
    if len(parts) != len(value):
        return None
    degrees, minutes, seconds = (parts + [0.0, 0.0])[:3]
    if minutes >= 60 or seconds >= 60:
        return None
    decimal = degrees + minutes / 60.0 + seconds / 3600.0
    if decimal > limit:
        return None
    side = (_text(ref) or hemispheres[0])[:1].upper()
    if side not in hemispheres:
        return None
    return round(-decimal if side == hemispheres[1] else decimal, 7)
