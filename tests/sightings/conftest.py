"""Photos with crafted EXIF (good, wrong-typed, looping, huge) and identification results to save."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from butterflyer.serve.catalog import Catalog, SpeciesInfo
from butterflyer.serve.schemas import IdentifyResult, ModelRef, SpeciesGuess, Taxon

GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def picture(seed: int = 0, size: tuple[int, int] = (120, 80)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def jpeg(seed: int = 0, exif: Image.Exif | bytes | None = None, size: tuple[int, int] = (120, 80)) -> bytes:
    buf = io.BytesIO()
    kwargs = {} if exif is None else {"exif": exif}
    picture(seed, size).save(buf, "JPEG", quality=85, **kwargs)
    return buf.getvalue()


def gps_exif(lat: tuple = (46.0, 12.0, 30.0), lat_ref: object = "N", lon: tuple = (6.0, 30.0, 0.0),
             lon_ref: object = "W", when: str | None = "2024:06:01 10:30:00",
             offset: str | None = "+02:00") -> Image.Exif:
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: lat_ref, 2: lat, 3: lon_ref, 4: lon})
    if when is not None:
        sub = exif.get_ifd(EXIF_IFD)
        sub[0x9003] = when
        if offset is not None:
            sub[0x9011] = offset
    return exif


def tiff_block(entries: list[tuple[int, int, int, bytes]], next_ifd: int = 0) -> bytes:
    """A little-endian TIFF header + one IFD at offset 8; ``entries`` are (tag, type, count, 4-byte value)."""
    body = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")[:4]
    return b"II*\x00" + struct.pack("<I", 8) + body + struct.pack("<I", next_ifd)


def _ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int = 0) -> bytes:
    body = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")[:4]
    return body + struct.pack("<I", next_ifd)


def wrong_types_exif() -> bytes:
    """GPS as text and numbers in the wrong places, zero denominators, a date stored as a number."""
    gps_at, rationals_at, exif_at = 38, 92, 116
    ifd0 = _ifd([(EXIF_IFD, 4, 1, struct.pack("<I", exif_at)), (GPS_IFD, 4, 1, struct.pack("<I", gps_at))])
    gps = _ifd([(1, 2, 2, b"Q\0"), (2, 2, 4, b"abc\0"), (3, 3, 1, struct.pack("<H", 5)),
                (4, 5, 3, struct.pack("<I", rationals_at))])
    rationals = struct.pack("<6I", 6, 0, 30, 0, 1, 0)
    sub = _ifd([(0x9003, 4, 1, struct.pack("<I", 20240601))])
    block = b"II*\x00" + struct.pack("<I", 8) + ifd0 + gps + rationals + sub
    assert len(b"II*\x00") + 4 + len(ifd0) == gps_at and gps_at + len(gps) == rationals_at
    return b"Exif\x00\x00" + block


def looping_exif() -> bytes:
    """IFD0 whose next-IFD link, Exif pointer and GPS pointer all point back at IFD0."""
    point_home = struct.pack("<I", 8)
    entries = [(EXIF_IFD, 4, 1, point_home), (GPS_IFD, 4, 1, point_home)]
    return b"Exif\x00\x00" + tiff_block(entries, next_ifd=8)


def out_of_range_exif() -> bytes:
    """An Exif pointer far past the end of the block, and a GPS entry claiming a billion values."""
    return b"Exif\x00\x00" + tiff_block([(EXIF_IFD, 4, 1, struct.pack("<I", 0x7FFFFFF0)),
                                         (GPS_IFD, 4, 1, struct.pack("<I", 26)),
                                         (2, 5, 1_000_000_000, struct.pack("<I", 8))])


def exif_png(padding: int = 0) -> bytes:
    """A PNG with GPS and a date in its eXIf chunk, padded by ``padding`` bytes (huge: 2 MB)."""
    buf = io.BytesIO()
    picture(3).save(buf, "PNG", exif=gps_exif().tobytes() + b"\0" * padding)
    return buf.getvalue()


def result(verdict: str = "species", label: str | None = "MONARCH", probability: float = 0.91,
           taxon: Taxon | None = None, version: str = "7") -> IdentifyResult:
    top = [SpeciesGuess(id="MONARCH", common_name="Monarch", scientific_name="Danaus plexippus",
                        probability=probability),
           SpeciesGuess(id="VICEROY", common_name="Viceroy", scientific_name="Limenitis archippus",
                        probability=round(1 - probability, 6))]
    species = next((g for g in top if g.id == label), None) if verdict == "species" else None
    return IdentifyResult(verdict=verdict, species=species, taxon=taxon, top_k=top,  # type: ignore[arg-type]
                          model=ModelRef(name="butterflyer", version=version), latency_ms=1.0, message="m")


@pytest.fixture
def catalog() -> Catalog:
    return Catalog({
        "MONARCH": SpeciesInfo("MONARCH", "Monarch", "Danaus plexippus", "Danaus", "Nymphalidae"),
        "QUEEN": SpeciesInfo("QUEEN", "Queen", "Danaus gilippus", "Danaus", "Nymphalidae"),
        "VICEROY": SpeciesInfo("VICEROY", "Viceroy", "Limenitis archippus", "Limenitis", "Nymphalidae"),
    })
