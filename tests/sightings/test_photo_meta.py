"""EXIF time and GPS: read when sound, missing (never an error) when crafted or broken."""

from __future__ import annotations

import pytest

from butterflyer.sightings.photo_meta import PhotoMeta, read_photo_meta

from .conftest import exif_png, gps_exif, jpeg, looping_exif, out_of_range_exif, wrong_types_exif


def test_reads_time_with_offset_and_signed_position() -> None:
    meta = read_photo_meta(jpeg(0, gps_exif()))
    assert meta.taken_at == "2024-06-01T10:30:00+02:00"
    assert meta.latitude == pytest.approx(46.2083333) and meta.longitude == pytest.approx(-6.5)


def test_south_and_no_offset() -> None:
    meta = read_photo_meta(jpeg(0, gps_exif(lat_ref="S", lon_ref="E", offset=None)))
    assert meta.taken_at == "2024-06-01T10:30:00"
    assert meta.latitude < 0 < meta.longitude


@pytest.mark.parametrize("exif", [
    gps_exif(lat=(95.0, 0.0, 0.0)),           # past the pole
    gps_exif(lat=(46.0, 75.0, 0.0)),          # 75 minutes
    gps_exif(lat=(0.0, 0.0, 0.0), lon=(0.0, 0.0, 0.0), when=None),  # "no fix" written as 0, 0
])
def test_impossible_positions_are_missing(exif) -> None:  # noqa: ANN001
    meta = read_photo_meta(jpeg(0, exif))
    assert meta.latitude is None and meta.longitude is None


def test_impossible_date_is_missing() -> None:
    assert read_photo_meta(jpeg(0, gps_exif(when="0000:00:00 00:00:00"))).taken_at is None


@pytest.mark.parametrize("block", [wrong_types_exif(), looping_exif(), out_of_range_exif()],
                         ids=["wrong-types", "looping", "out-of-range"])
def test_crafted_exif_gives_no_metadata_and_no_error(block: bytes) -> None:
    assert read_photo_meta(jpeg(0, block)) == PhotoMeta()


def test_huge_exif_is_ignored_even_when_it_holds_gps() -> None:
    assert read_photo_meta(exif_png()).latitude is not None  # the same block, small, is read
    assert read_photo_meta(exif_png(padding=2_000_000)) == PhotoMeta()


@pytest.mark.parametrize("data", [b"", b"not an image", jpeg(0)[:40]])
def test_not_an_image_is_just_empty(data: bytes) -> None:
    assert read_photo_meta(data) == PhotoMeta()
