"""``POST /v1/chat`` through FastAPI's test client, with the engine over the tiny guide."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from butterflyer.chat.answer import ChatEngine
from butterflyer.serve.routes.chat import get_chat_engine, router


@pytest.fixture()
def client(tiny_engine: ChatEngine) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_chat_engine] = lambda: tiny_engine
    return TestClient(app)


def test_chat_answers_with_citations(client: TestClient) -> None:
    resp = client.post("/v1/chat", json={"message": "What does it eat?", "species_id": "MONARCH"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["species_id"] == "MONARCH" and body["status"] == "answered"
    assert "milkweed" in body["answer"].lower()
    first = body["citations"][0]
    assert {"entry", "section", "text", "n"} <= set(first) and first["entry"] == "MONARCH"


def test_chat_uses_history(client: TestClient) -> None:
    resp = client.post("/v1/chat", json={"message": "How big is it?", "history": [
        {"role": "user", "content": "Tell me about the viceroy"},
        {"role": "assistant", "content": "The viceroy lives across much of North America."}]})
    assert resp.status_code == 200 and resp.json()["species_id"] == "VICEROY"
    assert "53" in resp.json()["answer"]


def test_chat_refusal_is_a_normal_reply(client: TestClient) -> None:
    body = client.post("/v1/chat", json={"message": "What is the capital of France?"}).json()
    assert body["status"] == "off_topic" and body["citations"] == []


@pytest.mark.parametrize("payload", [
    {"message": ""},
    {"message": "   "},
    {"message": "x" * 3000},
    {"message": "what does it eat?", "species_id": "DODO"},
    {"message": "hi", "history": [{"role": "robot", "content": "beep"}]},
    {},
])
def test_bad_requests_are_422(client: TestClient, payload: dict) -> None:
    resp = client.post("/v1/chat", json=payload)
    assert resp.status_code == 422, resp.text


def test_a_photo_of_a_species_the_guide_lacks_gets_no_entry_and_its_relatives(client: TestClient) -> None:
    photo = {"known_species": False, "relatives": ["VICEROY", "MONARCH"], "group": "a member of the genus X"}
    body = client.post("/v1/chat", json={"message": "What does it eat?", "photo": photo}).json()
    assert body["status"] == "not_covered"
    assert "does not cover" in body["answer"] and "no entry" in body["answer"]
    assert "milkweed" not in body["answer"].lower()  # never the first-ranked species' facts
    assert [c["entry"] for c in body["citations"]] == ["VICEROY", "MONARCH"]
    assert "suggestions only" in body["answer"] and body["sources"][0]["entry"] == "VICEROY"
    # naming a covered species is a question about that species, answered as usual
    named = client.post("/v1/chat", json={"message": "What does the monarch eat?", "photo": photo}).json()
    assert named["status"] == "answered" and "milkweed" in named["answer"].lower()
    # a photo of a known species changes nothing
    known = {**photo, "known_species": True}
    same = client.post("/v1/chat", json={"message": "What does it eat?", "species_id": "MONARCH",
                                         "photo": known}).json()
    assert same["status"] == "answered"
