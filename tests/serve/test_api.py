"""The HTTP API with TestClient: good images, every bad-input class, roll-up and gate end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from butterflyer.serve.app import create_app
from butterflyer.serve.catalog import Catalog
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.identify import Identifier
from butterflyer.serve.session import load_served_model
from butterflyer.serve.settings import ServeSettings

from .conftest import imagenet_logits, make_constant_onnx


def client_for(model: str, catalog: Catalog | None = None, **overrides) -> TestClient:
    overrides.setdefault("chat", False)
    settings = ServeSettings(model_uri=model, refresh_seconds=0, **overrides)
    holder = ModelHolder(settings, loader=lambda uri, s: Identifier.from_model(load_served_model(uri), s,
                                                                               catalog))
    return TestClient(create_app(settings, holder))


@pytest.fixture
def client(tiny_model: Path) -> Iterator[TestClient]:
    with client_for(str(tiny_model), Catalog()) as c:
        yield c


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp", "gif", "cmyk", "rgba", "exif"])
def test_good_images_get_an_answer_with_every_field(client: TestClient, images: dict[str, bytes],
                                                    kind: str) -> None:
    upload = (f"x.{kind}", images[kind], "application/octet-stream")
    res = client.post("/v1/identify", files={"image": upload})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["verdict"] in {"species", "genus", "family", "uncertain", "not_a_butterfly"}
    assert len(body["top_k"]) == 4  # the tiny model knows four labels
    assert {"id", "common_name", "scientific_name", "probability"} <= set(body["top_k"][0])
    assert body["model"] == {"name": "tiny", "version": "1"}
    assert body["latency_ms"] > 0
    assert abs(sum(g["probability"] for g in body["top_k"]) - 1.0) < 1e-3


def test_raw_body_upload_works(client: TestClient, images: dict[str, bytes]) -> None:
    res = client.post("/v1/identify", content=images["png"], headers={"content-type": "image/png"})
    assert res.status_code == 200


@pytest.mark.parametrize(("kind", "status", "reason"), [
    ("text", 415, "not_an_image"),
    ("truncated", 422, "truncated"),
    ("empty", 422, "empty"),
    ("tiny", 422, "too_small"),
    ("bomb", 422, "too_large"),
])
def test_bad_images_get_a_clear_status(client: TestClient, images: dict[str, bytes], kind: str, status: int,
                                       reason: str) -> None:
    # the name and the declared type lie on purpose: only the bytes count
    res = client.post("/v1/identify", files={"image": ("photo.jpg", images[kind], "image/jpeg")})
    assert res.status_code == status
    assert res.json()["error"] == reason
    assert res.json()["detail"]


def test_upload_over_the_limit_is_413_by_header_and_by_stream(tiny_model: Path) -> None:
    with client_for(str(tiny_model), Catalog(), max_upload_bytes=100_000) as c:
        big = b"\xff\xd8\xff" + b"0" * 300_000
        res = c.post("/v1/identify", files={"image": ("big.jpg", big, "image/jpeg")})
        assert res.status_code == 413
        assert res.json()["error"] == "too_large_upload"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(40):
                yield b"0" * 10_000

        res = c.post("/v1/identify", content=chunks(), headers={"content-type": "image/jpeg"})
        assert res.status_code == 413
        # just under the limit is fine, as far as size goes
        res = c.post("/v1/identify", content=b"0" * 90_000, headers={"content-type": "image/jpeg"})
        assert res.status_code == 415


def test_missing_file_field_is_400(client: TestClient) -> None:
    res = client.post("/v1/identify", data={"note": "no file"})
    assert res.status_code == 400
    assert res.json()["error"] == "missing_file"
    res = client.post("/v1/identify", files={"note": (None, "a text field, not a file")})
    assert res.status_code == 400
    assert res.json()["error"] == "missing_file"


def test_explain_returns_a_png_heatmap(client: TestClient, images: dict[str, bytes]) -> None:
    res = client.post("/v1/identify?explain=true", files={"image": ("x.jpg", images["jpeg"], "image/jpeg")})
    assert res.status_code == 200
    assert res.json()["heatmap_png"].startswith("data:image/png;base64,")


def test_species_routes(client: TestClient) -> None:
    listing = client.get("/v1/species").json()
    assert listing["count"] == 4
    assert [s["id"] for s in listing["species"]] == ["MONARCH", "VICEROY", "QUEEN", "ATLAS MOTH"]
    card = client.get("/v1/species/ATLAS MOTH")
    assert card.status_code == 200 and card.json()["common_name"] == "Atlas Moth"
    missing = client.get("/v1/species/NOT A SPECIES")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_species"


def test_health_ready_metrics_docs_and_page(client: TestClient, images: dict[str, bytes]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    client.post("/v1/identify", files={"image": ("x.png", images["png"], "image/png")})
    client.post("/v1/identify", files={"image": ("x.txt", images["text"], "text/plain")})
    metrics = client.get("/metrics").text
    assert 'butterflyer_identify_requests_total{outcome="ok"} 1.0' in metrics
    assert 'butterflyer_identify_requests_total{outcome="not_an_image"} 1.0' in metrics
    assert "butterflyer_identify_seconds_bucket" in metrics
    assert "butterflyer_top1_probability_count 1.0" in metrics
    assert "/v1/identify" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "ButterFlyer" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_no_model_means_not_ready_and_503(tmp_path: Path, images: dict[str, bytes]) -> None:
    with client_for(str(tmp_path / "nowhere")) as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "does not exist" in ready.json()["detail"]
        res = c.post("/v1/identify", files={"image": ("x.png", images["png"], "image/png")})
        assert res.status_code == 503 and res.json()["error"] == "model_unavailable"


# -- roll-up and gate on controlled logits, through the whole API ----------------------------------

CASES = [
    # species logits over L0..L6 (see the catalog fixture), butterfly-like ImageNet answer?, verdict, name
    ([6.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], True, "species", "L0"),
    ([3.0, 2.9, 0.5, 0.0, 0.0, 0.0, 0.0], True, "genus", "Danaus"),
    ([0.0, 0.0, 0.0, 0.0, 3.0, 2.5, 3.0], True, "family", "Papilionidae"),
    ([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0], True, "uncertain", None),
    ([6.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], False, "not_a_butterfly", None),
]


@pytest.mark.parametrize(("logits", "butterfly", "verdict", "name"), CASES)
def test_roll_up_and_gate_on_controlled_logits(tmp_path: Path, catalog: Catalog, images: dict[str, bytes],
                                                logits: list[float], butterfly: bool, verdict: str,
                                                name: str | None) -> None:
    folder = make_constant_onnx(tmp_path / "m", logits, imagenet_logits(butterfly),
                                labels=list(catalog.entries))
    with client_for(str(folder), catalog) as c:
        body = c.post("/v1/identify", files={"image": ("x.jpg", images["jpeg"], "image/jpeg")}).json()
    assert body["verdict"] == verdict
    if verdict == "species":
        assert body["species"]["id"] == name and body["species"]["scientific_name"] == "Danaus plexippus"
        assert body["taxon"] is None
    elif verdict in ("genus", "family"):
        assert body["species"] is None
        assert body["taxon"]["rank"] == verdict and body["taxon"]["name"] == name
        assert "can't tell the species" in body["message"]
    else:
        assert body["species"] is None and body["taxon"] is None
    if verdict == "not_a_butterfly":
        assert body["gate"]["score"] < body["gate"]["threshold"]
    assert len(body["top_k"]) == 5


def test_family_wording_uses_the_everyday_name(tmp_path: Path, catalog: Catalog,
                                               images: dict[str, bytes]) -> None:
    folder = make_constant_onnx(tmp_path / "m", [0.0, 0.0, 0.0, 0.0, 3.0, 2.5, 3.0], imagenet_logits(True),
                                labels=list(catalog.entries))
    with client_for(str(folder), catalog) as c:
        body = c.post("/v1/identify", files={"image": ("x.jpg", images["jpeg"], "image/jpeg")}).json()
    assert body["message"].startswith("Probably one of the swallowtails (family Papilionidae)")
    assert body["taxon"]["common_name"] == "swallowtails"


def test_stored_thresholds_and_settings_overrides(tmp_path: Path, catalog: Catalog,
                                                  images: dict[str, bytes]) -> None:
    logits = [3.0, 2.9, 0.5, 0.0, 0.0, 0.0, 0.0]  # top species at ~0.48
    stored = {"serving": {"thresholds": {"species": 0.4, "genus": 0.7, "family": 0.8}}}
    folder = make_constant_onnx(tmp_path / "m", logits, imagenet_logits(True), labels=list(catalog.entries),
                                extra=stored)
    with client_for(str(folder), catalog) as c:
        assert c.post("/v1/identify", files={"image": ("x", images["png"])}).json()["verdict"] == "species"
        assert c.get("/v1/model").json()["thresholds"]["species"] == 0.4
    with client_for(str(folder), catalog, species_threshold=0.9) as c:
        assert c.post("/v1/identify", files={"image": ("x", images["png"])}).json()["verdict"] == "genus"


def test_model_without_imagenet_head_never_rejects(tmp_path: Path, catalog: Catalog,
                                                   images: dict[str, bytes]) -> None:
    folder = make_constant_onnx(tmp_path / "m", [6.0, 1.0, 0, 0, 0, 0, 0], None, labels=list(catalog.entries))
    with client_for(str(folder), catalog) as c:
        body = c.post("/v1/identify", files={"image": ("x", images["png"])}).json()
        assert body["verdict"] == "species" and body["gate"] is None
        assert c.get("/v1/model").json()["gate_available"] is False


def test_chat_route_is_mounted_when_installed_and_can_be_turned_off(tiny_model: Path) -> None:
    import importlib.util

    installed = importlib.util.find_spec("butterflyer.serve.routes.chat") is not None
    with client_for(str(tiny_model), Catalog(), chat=True) as c:
        assert c.get("/v1/features").json()["chat"] is installed
        assert ("/v1/chat" in c.get("/openapi.json").json()["paths"]) is installed
    with client_for(str(tiny_model), Catalog(), chat=False) as c:
        assert c.get("/v1/features").json()["chat"] is False
        assert c.post("/v1/chat", json={"message": "hi"}).status_code in (404, 405)
