"""The sightings database: migrations match the model; add, read, correct, delete; bad input refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image
from sqlalchemy import create_engine, inspect

from butterflyer.errors import ConfigError
from butterflyer.sightings.db import URL_ENV, database_url, engine_for, migrate
from butterflyer.sightings.errors import SightingInputError, SightingNotFound
from butterflyer.sightings.schema import Base
from butterflyer.sightings.store import SightingStore

from .conftest import gps_exif, jpeg, result


def test_migrations_create_exactly_the_model_schema(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    migrate(engine)  # a second run is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) == {"alembic_version", "sightings"}


def test_default_database_is_under_home_and_the_url_setting_moves_it(
        butterflyer_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert database_url() == f"sqlite:///{butterflyer_home / 'sightings.db'}"
    other = tmp_path / "shared" / "s.db"
    other.parent.mkdir()
    monkeypatch.setenv(URL_ENV, f"sqlite:///{other}")
    SightingStore().add(jpeg(0), result())
    assert other.is_file() and not (butterflyer_home / "sightings.db").exists()


def test_a_bad_url_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "no-such-dialect://x")
    with pytest.raises(ConfigError, match=URL_ENV):
        engine_for()


def test_add_reads_exif_and_keeps_no_metadata_in_the_thumbnail() -> None:
    store = SightingStore()
    data = jpeg(1, gps_exif(), size=(800, 600))
    saved = store.add(data, result(), note="  on buddleia  ", file_name="trip/img1.jpg")
    row = store.get(saved.id, with_media=True)
    assert row.taken_at == "2024-06-01T10:30:00+02:00"
    assert (row.latitude, row.longitude, row.position_source) == (pytest.approx(46.2083333), -6.5, "exif")
    assert row.model_species == "MONARCH" and row.probability == pytest.approx(0.91)
    assert row.note == "on buddleia" and row.photo is None and row.photo_type is None
    thumb = Image.open(io.BytesIO(row.thumbnail))
    assert max(thumb.size) == 320 and thumb.format == "JPEG"
    assert not thumb.getexif() and b"Exif" not in row.thumbnail  # GPS and every other tag stripped


def test_a_given_position_wins_and_the_photo_is_kept_only_on_request() -> None:
    store = SightingStore()
    data = jpeg(2, gps_exif())
    row = store.add(data, result(), latitude=-33.9, longitude=151.2, keep_photo=True)
    got = store.get(row.id, with_media=True)
    assert (got.latitude, got.longitude, got.position_source) == (-33.9, 151.2, "user")
    assert got.photo == data and got.photo_type == "image/jpeg"


@pytest.mark.parametrize("kwargs", [{"latitude": 10.0}, {"latitude": 91.0, "longitude": 0.0},
                                    {"note": "x" * 2001}, {"species": "NOT A LABEL"}])
def test_bad_input_is_refused_before_anything_is_stored(kwargs: dict) -> None:
    store = SightingStore()
    with pytest.raises(SightingInputError):
        store.add(jpeg(0), result(), known_species={"MONARCH", "VICEROY"}, **kwargs)
    assert store.count() == 0


def test_list_update_and_correct() -> None:
    store = SightingStore()
    first = store.add(jpeg(0), result())
    second = store.add(jpeg(1), result(verdict="uncertain", label=None))
    assert [s.id for s in store.latest()] == [second.id, first.id]  # newest first
    fixed = store.update(first.id, {"species": "VICEROY", "note": "hindwing line"},
                         known_species={"MONARCH", "VICEROY"})
    assert fixed.species == "VICEROY" and fixed.note == "hindwing line"
    moved = store.update(first.id, {"latitude": 1.5, "longitude": 2.5})
    assert (moved.latitude, moved.position_source) == (1.5, "user")
    cleared = store.update(first.id, {"species": None, "latitude": None, "longitude": None})
    assert cleared.species is None and cleared.latitude is None
    with pytest.raises(SightingInputError, match="cannot change"):
        store.update(first.id, {"verdict": "species"})
    with pytest.raises(SightingNotFound):
        store.update("nope", {"note": "x"})


def test_delete_really_deletes_row_thumbnail_and_photo(butterflyer_home: Path) -> None:
    store = SightingStore()
    data = jpeg(5, size=(400, 300))
    row = store.add(data, result(), keep_photo=True)
    thumb = store.get(row.id, with_media=True).thumbnail
    db = butterflyer_home / "sightings.db"
    assert thumb[100:164] in db.read_bytes()
    store.delete(row.id)
    with pytest.raises(SightingNotFound):
        store.get(row.id)
    raw = db.read_bytes()
    assert thumb[100:164] not in raw and data[200:264] not in raw  # secure_delete zeroed the freed pages
    with pytest.raises(SightingNotFound):
        store.delete(row.id)
