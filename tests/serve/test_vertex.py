"""The Vertex AI prediction route: base64 instances in, one answer (or error) per instance out."""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi.testclient import TestClient

from butterflyer.serve.catalog import Catalog

from .test_api import client_for


def test_vertex_predict_answers_each_instance_in_order(tiny_model: Path, images: dict[str, bytes]) -> None:
    good = base64.b64encode(images["jpeg"]).decode()
    not_image = base64.b64encode(b"hello, not a photo").decode()
    body = {"instances": [{"b64": good}, {"b64": "%%%"}, {"b64": not_image}, {"b64": good}]}
    with client_for(str(tiny_model), Catalog()) as client:
        res = client.post("/v1/vertex/predict", json=body)
        single = client.post("/v1/identify", files={"image": ("photo.jpg", images["jpeg"], "image/jpeg")})
    assert res.status_code == 200, res.text
    preds = res.json()["predictions"]
    assert len(preds) == 4
    # each instance gets the answer the identify route gives for the same photo
    assert preds[0]["verdict"] == single.json()["verdict"]
    assert preds[0]["top_k"] == single.json()["top_k"]
    assert preds[0]["top_k"] == preds[3]["top_k"]
    assert preds[1]["error"] == "bad_base64"
    assert preds[2]["error"] == "not_an_image"


def test_vertex_predict_refuses_an_empty_or_oversized_batch(tiny_model: Path) -> None:
    with client_for(str(tiny_model), Catalog()) as client:
        _check_refusals(client)


def _check_refusals(client: TestClient) -> None:
    assert client.post("/v1/vertex/predict", json={"instances": []}).status_code == 422
    many = {"instances": [{"b64": "AA=="}] * 33}
    assert client.post("/v1/vertex/predict", json=many).status_code == 422
