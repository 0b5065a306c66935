"""Optional LLM phrasing, tested against a fake OpenAI-compatible server on 127.0.0.1."""
# ruff: noqa: E501

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.llm import LLMConfig, llm_from_env
from butterflyer.chat.reply import fully_grounded
from butterflyer.errors import ConfigError


class FakeLLM:
    """Replies with ``self.content`` (or an HTTP error) and records what it was sent."""

    def __init__(self) -> None:
        self.content = ""
        self.status = 200
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": fake.content}}]})
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    yield fake
    fake.close()


@pytest.fixture()
def fake_llm(_server: FakeLLM) -> FakeLLM:
    _server.content, _server.status, _server.requests[:] = "", 200, []
    return _server


@pytest.fixture()
def llm_engine(tiny_engine: ChatEngine, fake_llm: FakeLLM) -> Iterator[ChatEngine]:
    tiny_engine.llm = LLMConfig(url=fake_llm.url, model="fake-model", api_key="sk-test", timeout_s=5)
    yield tiny_engine
    tiny_engine.llm = None


def test_uncited_and_invented_sentences_are_dropped(llm_engine: ChatEngine, fake_llm: FakeLLM) -> None:
    fake_llm.content = ("Monarch caterpillars eat only milkweeds [1]. Monarchs are the cleverest insects alive. "
                        "Monarchs also eat pizza and chips every day [1]. Birds avoid monarchs [9].")
    reply = llm_engine.ask("What does a monarch caterpillar eat?")
    assert reply.backend == "llm"
    assert reply.answer == "Monarch caterpillars eat only milkweeds [1]."
    assert [c.n for c in reply.citations] == [1] and "milkweeds" in reply.citations[0].text
    assert fully_grounded(reply)
    sent = fake_llm.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "fake-model"
    assert sent["auth"] == "Bearer sk-test"
    prompt = sent["body"]["messages"][-1]["content"]
    assert "[1]" in prompt and "milkweeds" in prompt and "What does a monarch caterpillar eat?" in prompt


def test_citations_are_renumbered(llm_engine: ChatEngine, fake_llm: FakeLLM) -> None:
    fake_llm.content = "Painted lady adults take nectar from thistles, clover and buddleia [2]."
    reply = llm_engine.ask("What does the painted lady eat?", species_id=None)
    assert reply.answer.endswith("[1].") and len(reply.citations) == 1
    assert reply.citations[0].section == "adult_food"


def test_server_failure_falls_back_to_guide_sentences(llm_engine: ChatEngine, fake_llm: FakeLLM) -> None:
    fake_llm.status = 500
    reply = llm_engine.ask("What does a monarch caterpillar eat?")
    assert reply.backend == "guide" and "milkweeds" in reply.answer and fully_grounded(reply)


def test_nothing_cited_falls_back(llm_engine: ChatEngine, fake_llm: FakeLLM) -> None:
    fake_llm.content = "I think monarchs are lovely."
    reply = llm_engine.ask("What does a monarch caterpillar eat?")
    assert reply.backend == "guide" and fully_grounded(reply)


def test_refusals_never_reach_the_llm(llm_engine: ChatEngine, fake_llm: FakeLLM) -> None:
    reply = llm_engine.ask("What is the capital of France?")
    assert reply.refused and fake_llm.requests == []


def test_llm_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUTTERFLYER_LLM_URL", raising=False)
    assert llm_from_env() is None
    monkeypatch.setenv("BUTTERFLYER_LLM_URL", "http://localhost:11434")
    monkeypatch.delenv("BUTTERFLYER_LLM_MODEL", raising=False)
    with pytest.raises(ConfigError, match="BUTTERFLYER_LLM_MODEL"):
        llm_from_env()
    monkeypatch.setenv("BUTTERFLYER_LLM_MODEL", "llama3.1:8b")
    config = llm_from_env()
    assert config.endpoint == "http://localhost:11434/v1/chat/completions"
    assert LLMConfig(url="http://x/v1", model="m").endpoint == "http://x/v1/chat/completions"
    monkeypatch.setenv("BUTTERFLYER_LLM_URL", "localhost:11434")
    with pytest.raises(ConfigError, match="http"):
        llm_from_env()
