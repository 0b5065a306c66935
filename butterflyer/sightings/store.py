"""Add, read, correct and delete sightings.

>>> store = SightingStore()                      # BUTTERFLYER_SIGHTINGS_URL or <home>/sightings.db
>>> s = store.add(photo_bytes, result, note="on the buddleia")
>>> store.update(s.id, species="MONARCH")       # the user's correction
>>> store.delete(s.id)                          # the row, thumbnail and photo are gone

Every value the user gives is checked here (positions, text lengths), so the API
and the CLI refuse the same things with the same words.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, defer, sessionmaker

from butterflyer.data.images import DecodeLimits, sniff_format
from butterflyer.serve.schemas import IdentifyResult
from butterflyer.sightings.db import URL_ENV, engine_for
from butterflyer.sightings.errors import SightingInputError, SightingNotFound, SightingsUnavailable
from butterflyer.sightings.photo_meta import read_photo_meta
from butterflyer.sightings.schema import Sighting
from butterflyer.sightings.thumbnail import make_thumbnail

MAX_NOTE = 2000
MAX_LIST = 1000
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
               "BMP": "image/bmp", "TIFF": "image/tiff"}


@dataclass(frozen=True)
class Position:
    """A checked WGS84 position."""

    latitude: float
    longitude: float

    @classmethod
    def of(cls, latitude: float | None, longitude: float | None) -> Position | None:
        """Both or neither; in range; ``SightingInputError`` otherwise."""
        if latitude is None and longitude is None:
            return None
        if latitude is None or longitude is None:
            raise SightingInputError("give both latitude and longitude, or neither")
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
            raise SightingInputError(f"position {latitude}, {longitude} is off the globe; latitude must be "
                                     "within -90..90 and longitude within -180..180 (decimal degrees)")
        return cls(float(latitude), float(longitude))


def check_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise SightingInputError(f"the note has {len(note)} characters; keep it under {MAX_NOTE}")
    return note or None


def check_species(species: str | None, known: Collection[str] | None) -> str | None:
    """A label from ``known`` (when given), or ``None`` to clear a correction."""
    if species is None or not species.strip():
        return None
    species = species.strip()
    if known is not None and species not in known:
        raise SightingInputError(f"unknown species {species!r}; use a label from GET /v1/species "
                                 "(e.g. MONARCH)")
    if len(species) > 100:
        raise SightingInputError("species labels are at most 100 characters")
    return species


def _now() -> datetime:
    return datetime.now(UTC)


def build_sighting(data: bytes, result: IdentifyResult, *, keep_photo: bool = False,
                   latitude: float | None = None, longitude: float | None = None, note: str | None = None,
                   species: str | None = None, known_species: Collection[str] | None = None,
                   file_name: str | None = None, limits: DecodeLimits = DecodeLimits()) -> Sighting:
    """A new, not yet stored row for one identified photo (see :meth:`SightingStore.add`)."""
    given = Position.of(latitude, longitude)
    note = check_note(note)
    species = check_species(species, known_species)
    meta = read_photo_meta(data)
    thumb = make_thumbnail(data, limits=limits)
    lat: float | None = None
    lon: float | None = None
    source: str | None = None
    if given is not None:
        lat, lon, source = given.latitude, given.longitude, "user"
    elif meta.latitude is not None and meta.longitude is not None:
        lat, lon, source = meta.latitude, meta.longitude, "exif"
    answer = result.species or result.taxon
    return Sighting(
        id=str(uuid.uuid4()), created_at=_now(), photo_sha256=hashlib.sha256(data).hexdigest(),
        file_name=(file_name or None) and str(file_name)[-255:], thumbnail=thumb,
        photo=data if keep_photo else None,
        photo_type=MEDIA_TYPES.get(sniff_format(data) or "", "application/octet-stream") if keep_photo
        else None,
        taken_at=meta.taken_at, latitude=lat, longitude=lon, position_source=source,
        verdict=result.verdict, model_species=result.species.id if result.species else None,
        taxon_rank=result.taxon.rank if result.taxon else None,
        taxon_name=result.taxon.name if result.taxon else None,
        probability=answer.probability if answer is not None else None,
        top_k=[g.model_dump() for g in result.top_k], model_name=result.model.name,
        model_version=result.model.version, species=species, note=note)


class SightingStore:
    """Sightings in one database (see :func:`butterflyer.sightings.db.database_url`)."""

    def __init__(self, url: str | None = None, engine: Engine | None = None) -> None:
        self.engine = engine or engine_for(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def _open(self) -> Session:
        return self._session()

    def add(self, data: bytes, result: IdentifyResult, *, keep_photo: bool = False,
            latitude: float | None = None, longitude: float | None = None, note: str | None = None,
            species: str | None = None, known_species: Collection[str] | None = None,
            file_name: str | None = None, limits: DecodeLimits = DecodeLimits()) -> Sighting:
        """Store one identified photo: a metadata-free thumbnail, EXIF time/place, the answer.

        A position the user gives wins over the photo's GPS. The original bytes are kept
        only with ``keep_photo`` (they then still hold the camera's EXIF, GPS included).
        """
        row = build_sighting(data, result, keep_photo=keep_photo, latitude=latitude, longitude=longitude,
                             note=note, species=species, known_species=known_species,
                             file_name=file_name, limits=limits)
        with self._write() as session:
            session.add(row)
        return row

    def add_row(self, row: Sighting) -> Sighting:
        """Store a row made by :func:`build_sighting`."""
        with self._write() as session:
            session.add(row)
        return row

    def get(self, sighting_id: str, with_media: bool = False) -> Sighting:
        """One sighting (without its thumbnail/photo bytes unless ``with_media``)."""
        query = select(Sighting).where(Sighting.id == sighting_id)
        if not with_media:
            query = query.options(defer(Sighting.thumbnail), defer(Sighting.photo))
        with self._read() as session:
            row = session.scalars(query).first()
        if row is None:
            raise SightingNotFound(f"no sighting {sighting_id!r}; list them with GET /v1/sightings")
        return row

    def latest(self, limit: int = 100, offset: int = 0) -> list[Sighting]:
        """Newest first, without media bytes."""
        if not (1 <= limit <= MAX_LIST) or offset < 0:
            raise SightingInputError(f"limit must be 1..{MAX_LIST} and offset at least 0")
        query = (select(Sighting).options(defer(Sighting.thumbnail), defer(Sighting.photo))
                 .order_by(Sighting.created_at.desc(), Sighting.id).limit(limit).offset(offset))
        with self._read() as session:
            return list(session.scalars(query))

    def count(self) -> int:
        with self._read() as session:
            return int(session.scalar(select(func.count()).select_from(Sighting)) or 0)

    def find_by_sha256(self, sha256: str) -> list[Sighting]:
        query = (select(Sighting).options(defer(Sighting.thumbnail), defer(Sighting.photo))
                 .where(Sighting.photo_sha256 == sha256))
        with self._read() as session:
            return list(session.scalars(query))

    def update(self, sighting_id: str, changes: dict[str, Any],
               known_species: Collection[str] | None = None) -> Sighting:
        """Change ``species`` (``None``/"" clears the correction), ``note`` or the position.

        A position is set with both ``latitude`` and ``longitude``; both ``None`` removes it.
        """
        allowed = {"species", "note", "latitude", "longitude"}
        unknown = set(changes) - allowed
        if unknown:
            raise SightingInputError(f"cannot change {', '.join(sorted(unknown))}; "
                                     f"only {', '.join(sorted(allowed))}")
        with self._write() as session:
            row = session.get(Sighting, sighting_id,
                              options=[defer(Sighting.thumbnail), defer(Sighting.photo)])
            if row is None:
                raise SightingNotFound(f"no sighting {sighting_id!r}; list them with GET /v1/sightings")
            if "species" in changes:
                row.species = check_species(changes["species"], known_species)
            if "note" in changes:
                row.note = check_note(changes["note"])
            if "latitude" in changes or "longitude" in changes:
                where = Position.of(changes.get("latitude"), changes.get("longitude"))
                row.latitude = where.latitude if where else None
                row.longitude = where.longitude if where else None
                row.position_source = "user" if where else None
        return self.get(sighting_id)

    def delete(self, sighting_id: str) -> None:
        """Remove the row with its thumbnail and photo (SQLite also zeroes the freed pages)."""
        with self._write() as session:
            gone = session.scalar(select(func.count()).where(Sighting.id == sighting_id))
            session.execute(delete(Sighting).where(Sighting.id == sighting_id))
        if not gone:
            raise SightingNotFound(f"no sighting {sighting_id!r}; list them with GET /v1/sightings")

    # -- sessions that turn database failures into one clear error ----------------------------------

    def _read(self) -> _Guard:
        return _Guard(self._open(), commit=False, url=str(self.engine.url))

    def _write(self) -> _Guard:
        return _Guard(self._open(), commit=True, url=str(self.engine.url))


class _Guard:
    """A session that commits on success and reports database failures as ``SightingsUnavailable``."""

    def __init__(self, session: Session, commit: bool, url: str) -> None:
        self.session, self.commit, self.url = session, commit, url

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any) -> None:
        try:
            if kind is None and self.commit:
                self.session.commit()
            elif kind is not None:
                self.session.rollback()
        except SQLAlchemyError as err:
            self.session.rollback()
            raise SightingsUnavailable(_unavailable(self.url, err)) from err
        finally:
            self.session.close()
        if isinstance(exc, SQLAlchemyError):
            raise SightingsUnavailable(_unavailable(self.url, exc)) from exc


def _unavailable(url: str, exc: BaseException) -> str:
    return (f"the sightings database failed ({type(exc).__name__}: {str(exc)[:200]}); check that "
            f"{url} is writable and reachable ({URL_ENV} chooses another)")
