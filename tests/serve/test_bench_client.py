"""The load test's clients (benchmarks/bench_serve.py): they must count what the server really answered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from butterflyer.serve.app import create_app
from butterflyer.serve.catalog import Catalog
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.identify import Identifier
from butterflyer.serve.session import load_served_model
from butterflyer.serve.settings import ServeSettings

from .conftest import make_images, running_server


@pytest.fixture(scope="module")
def bench(load_benchmark) -> ModuleType:  # noqa: ANN001
    return load_benchmark("bench_serve")


@pytest.fixture
def url(tiny_model: Path) -> Iterator[str]:
    settings = ServeSettings(model_uri=str(tiny_model), refresh_seconds=0, chat=False)
    holder = ModelHolder(settings, loader=lambda uri, s: Identifier.from_model(load_served_model(uri), s,
                                                                               Catalog()))
    with running_server(create_app(settings, holder)) as base:
        yield f"{base}/v1/identify"


@pytest.mark.parametrize("kind", ["raw", "httpx"])
def test_both_clients_get_checked_answers(bench: ModuleType, url: str, kind: str) -> None:
    stats = asyncio.run(bench.drive(url, make_images()["jpeg"], clients=3, seconds=5, max_requests=40,
                                    kind=kind, check_every=2))
    assert stats["errors"] == {} and stats["requests"] == 40
    assert 0 < stats["p50_ms"] <= stats["p99_ms"]


def test_raw_client_counts_refusals_as_errors(bench: ModuleType, url: str) -> None:
    async def refused() -> object:
        tally = bench.Tally(seconds=5, max_requests=6)
        request = bench.multipart_request(url, make_images()["text"])
        await asyncio.gather(*(bench.raw_client(url, request, tally, 1) for _ in range(2)))
        return tally

    tally = asyncio.run(refused())
    assert tally.errors == {"415": 6} and tally.latencies == []


def test_answers_that_are_not_identify_results_are_errors(bench: ModuleType) -> None:
    assert bench.check_answer(b'{"verdict": "species", "top_k": [{"id": "MONARCH"}]}') is None
    assert bench.check_answer(b"<html>") == "bad_json"
    assert bench.check_answer(b'{"verdict": "maybe", "top_k": [1]}') == "bad_answer"
    assert bench.check_answer(b'{"verdict": "species", "top_k": []}') == "bad_answer"
