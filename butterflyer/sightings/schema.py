"""The ``sightings`` table (SQLAlchemy 2 declarative model).

The thumbnail and, only when the user asks, the full photo are stored in the row
itself, so deleting the row deletes them too, whatever the database is. Changing
this model needs a new migration in ``migrations/versions/``;
``tests/sightings/test_db.py`` fails when the two disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Sighting(Base):
    """One saved photo and its identification."""

    __tablename__ = "sightings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID; also the Darwin Core occurrenceID
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    photo_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)  # JPEG, re-encoded without any metadata
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)  # the original bytes, only when asked
    photo_type: Mapped[str | None] = mapped_column(String(32))  # its media type
    taken_at: Mapped[str | None] = mapped_column(String(32))  # ISO 8601 as the camera wrote it
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    position_source: Mapped[str | None] = mapped_column(String(8))  # "exif" or "user"
    verdict: Mapped[str] = mapped_column(String(24))
    model_species: Mapped[str | None] = mapped_column(String(100))  # label, for a species verdict
    taxon_rank: Mapped[str | None] = mapped_column(String(16))  # genus/family roll-up
    taxon_name: Mapped[str | None] = mapped_column(String(100))
    probability: Mapped[float | None] = mapped_column(Float)  # of the answer at its rank
    top_k: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    species: Mapped[str | None] = mapped_column(String(100))  # the user's confirmed or corrected label
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_sightings_created_at", "created_at"),
                      Index("ix_sightings_photo_sha256", "photo_sha256"))
