"""``/v1/sightings`` and ``/v1/model/card`` through TestClient: save, list, correct, export, delete."""

from __future__ import annotations

import csv
import io
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from butterflyer.serve.app import create_app
from butterflyer.serve.catalog import Catalog, SpeciesInfo
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.identify import Identifier
from butterflyer.serve.session import load_served_model
from butterflyer.serve.settings import ServeSettings

from .conftest import encode, imagenet_logits, make_constant_onnx, photo

LABELS = ["MONARCH", "QUEEN", "VICEROY"]
CATALOG = Catalog({
    "MONARCH": SpeciesInfo("MONARCH", "Monarch", "Danaus plexippus", "Danaus", "Nymphalidae"),
    "QUEEN": SpeciesInfo("QUEEN", "Queen", "Danaus gilippus", "Danaus", "Nymphalidae"),
    "VICEROY": SpeciesInfo("VICEROY", "Viceroy", "Limenitis archippus", "Limenitis", "Nymphalidae"),
})


def gps_jpeg(lat: float = 46.5, lon: float = 6.25) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (lat, 0.0, 0.0), 3: "E", 4: (lon, 0.0, 0.0)})
    exif.get_ifd(0x8769)[0x9003] = "2024:07:14 09:05:00"
    return encode(photo((120, 90)), "JPEG", exif=exif)


def looping_exif_jpeg() -> bytes:
    """IFD0's Exif and GPS pointers and next-IFD link all point back at IFD0."""
    home = struct.pack("<I", 8)
    ifd = struct.pack("<H", 2) + b"".join(struct.pack("<HHI", tag, 4, 1) + home for tag in (0x8769, 0x8825))
    return encode(photo((120, 90)), "JPEG", exif=b"Exif\x00\x00II*\x00" + home + ifd + home)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    folder = make_constant_onnx(tmp_path / "m", [4.0, 1.0, 0.5], imagenet_logits(True), labels=LABELS,
                                version="7", extra={"serving": {"thresholds": {"species": 0.6, "genus": 0.7,
                                                                               "family": 0.8}}})
    settings = ServeSettings(model_uri=str(folder), refresh_seconds=0, chat=False, max_upload_bytes=200_000)
    holder = ModelHolder(settings, loader=lambda uri, s: Identifier.from_model(load_served_model(uri), s,
                                                                               CATALOG))
    with TestClient(create_app(settings, holder)) as c:
        yield c


def test_nothing_is_stored_unless_asked(client: TestClient, butterflyer_home: Path) -> None:
    assert client.post("/v1/identify", files={"image": ("a.jpg", gps_jpeg())}).status_code == 200
    assert not (butterflyer_home / "sightings.db").exists()
    assert client.get("/v1/sightings").json() == {"count": 0, "sightings": []}


def test_save_correct_export_and_delete(client: TestClient) -> None:
    res = client.post("/v1/sightings?note=garden", files={"image": ("trip/a.jpg", gps_jpeg())})
    assert res.status_code == 201, res.text
    s = res.json()
    assert s["verdict"] == "species" and s["model_species"] == "MONARCH" and s["model"]["version"] == "7"
    assert (s["latitude"], s["longitude"], s["position_source"]) == (46.5, 6.25, "exif")
    assert s["taken_at"] == "2024-07-14T09:05:00" and s["note"] == "garden" and s["photo_url"] is None
    assert s["shown"] == {"label": "MONARCH", "name": "Monarch", "scientific_name": "Danaus plexippus",
                          "rank": "species"}
    thumb = client.get(s["thumbnail_url"])
    assert thumb.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(thumb.content)).getexif()
    assert client.get(f"/v1/sightings/{s['id']}/photo").status_code == 404  # not kept

    fixed = client.patch(f"/v1/sightings/{s['id']}", json={"species": "VICEROY"})
    assert fixed.status_code == 200 and fixed.json()["shown"]["label"] == "VICEROY"
    assert fixed.json()["note"] == "garden"  # fields not sent stay as they were

    plain = client.get("/v1/sightings/export?format=dwc")
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/csv")
    assert "attachment" in plain.headers["content-disposition"]
    row = next(csv.DictReader(io.StringIO(plain.text)))
    assert row["occurrenceID"] == f"urn:uuid:{s['id']}" and row["basisOfRecord"] == "HumanObservation"
    assert row["scientificName"] == "Limenitis archippus" and row["taxonRank"] == "species"
    assert (row["family"], row["genus"]) == ("Nymphalidae", "Limenitis")
    assert row["eventDate"] == "2024-07-14T09:05:00"
    assert row["decimalLatitude"] == "" and row["decimalLongitude"] == ""  # not asked for
    remark = row["identificationRemarks"]
    assert "model tiny v7: Danaus plexippus with probability 0.9" in remark
    assert "corrected by the observer to Limenitis archippus" in remark

    blurred = next(csv.DictReader(io.StringIO(
        client.get("/v1/sightings/export?format=dwc&coordinates=true&blur=0.1").text)))
    assert (blurred["decimalLatitude"], blurred["decimalLongitude"]) == ("46.500000", "6.200000")
    assert int(blurred["coordinateUncertaintyInMeters"]) > 5000
    exact = next(csv.DictReader(io.StringIO(client.get("/v1/sightings/export?coordinates=true").text)))
    assert (exact["latitude"], exact["corrected_species"]) == ("46.500000", "VICEROY")

    assert client.delete(f"/v1/sightings/{s['id']}").status_code == 204
    assert client.get(f"/v1/sightings/{s['id']}").status_code == 404
    assert client.get(s["thumbnail_url"]).status_code == 404
    assert client.delete(f"/v1/sightings/{s['id']}").json()["error"] == "unknown_sighting"


def test_keep_photo_and_a_given_position_and_raw_body(client: TestClient) -> None:
    data = gps_jpeg()
    res = client.post("/v1/sightings?keep_photo=true&latitude=-1.25&longitude=36.8", content=data,
                      headers={"content-type": "image/jpeg"})
    assert res.status_code == 201, res.text
    s = res.json()
    assert (s["latitude"], s["position_source"]) == (-1.25, "user")
    assert client.get(s["photo_url"]).content == data
    dwc = next(csv.DictReader(io.StringIO(client.get("/v1/sightings/export?format=dwc").text)))
    assert dwc["associatedMedia"].endswith(f"/v1/sightings/{s['id']}/photo")


def test_crafted_exif_never_fails_a_save(client: TestClient) -> None:
    res = client.post("/v1/sightings", files={"image": ("loop.jpg", looping_exif_jpeg())})
    assert res.status_code == 201, res.text
    assert res.json()["latitude"] is None and res.json()["taken_at"] is None


@pytest.mark.parametrize(("query", "status", "reason"), [
    ("latitude=10", 422, "invalid_sighting"),
    ("latitude=100&longitude=0", 422, "invalid_sighting"),
    ("species=DRAGONFLY", 422, "invalid_sighting"),
])
def test_bad_values_are_refused_and_nothing_is_stored(client: TestClient, query: str, status: int,
                                                      reason: str) -> None:
    res = client.post(f"/v1/sightings?{query}", files={"image": ("a.jpg", gps_jpeg())})
    assert (res.status_code, res.json()["error"]) == (status, reason)
    assert client.get("/v1/sightings").json()["count"] == 0


def test_upload_limits_are_the_identify_limits(client: TestClient) -> None:
    big = encode(photo((900, 900), seed=3), "PNG")
    assert len(big) > 200_000
    assert client.post("/v1/sightings", files={"image": ("big.png", big)}).status_code == 413
    text = client.post("/v1/sightings", files={"image": ("x.jpg", b"hello" * 50)})
    assert (text.status_code, text.json()["error"]) == (415, "not_an_image")
    assert client.get("/v1/sightings").json()["count"] == 0


def test_patch_and_export_refuse_bad_values(client: TestClient) -> None:
    sid = client.post("/v1/sightings", files={"image": ("a.jpg", gps_jpeg())}).json()["id"]
    assert client.patch(f"/v1/sightings/{sid}", json={"species": "NOPE"}).status_code == 422
    assert client.patch(f"/v1/sightings/{sid}", json={"latitude": 5}).status_code == 422
    assert client.patch("/v1/sightings/unknown", json={"note": "x"}).status_code == 404
    assert client.get("/v1/sightings/export?format=xml").status_code == 422
    assert client.get("/v1/sightings/export?blur=0").status_code == 422


def test_model_card_route(client: TestClient) -> None:
    md = client.get("/v1/model/card")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Model card") and "## Known failure modes" in md.text
    page = client.get("/v1/model/card?format=html")
    assert page.headers["content-type"].startswith("text/html") and "Intended use" in page.text
