"""In a real headless Chromium: a photo of a species the model does not know, said so on the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from butterflyer.serve.ood_neighbours import NeighbourGate
from butterflyer.serve.openset import OpenSetRule

from .conftest import app_serving, danaus_catalog, make_constant_onnx, make_images, running_server
from .test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.browser
LABELS = ["MONARCH", "QUEEN", "VICEROY"]


def _served(tmp_path: Path) -> Path:
    """A constant model: sure it is a monarch, but its features sit between the training photos of all
    three species (gate passes, the monarch's own photos are not close enough: an unknown species)."""
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8)
    bank = np.concatenate([c + 0.05 * rng.normal(size=(4, 8)) for c in centres])
    photo = [0.6, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]  # cosine ~0.6 to each species' photos
    gate = NeighbourGate.fit(bank, threshold=0.3, labels=np.repeat(np.arange(3), 4))
    rule = OpenSetRule(species_similarity=0.9, genus_similarity=0.55, family_similarity=0.3)
    serving = {"thresholds": {"species": 0.6, "genus": 0.7, "family": 0.8}, "gate": gate.to_json(),
               "openset": rule.to_json()}
    return make_constant_onnx(tmp_path / "m", [5.0, 1.0, 0.5], None, labels=LABELS, version="3",
                              extra={"serving": serving}, features=photo)


@pytest.fixture
def base_url(tmp_path: Path):  # noqa: ANN201
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed; run 'make browser'")
    app = app_serving(_served(tmp_path), danaus_catalog())
    seen: list[dict] = []
    from fastapi import APIRouter

    router = APIRouter()

    @router.post("/v1/chat")
    def chat(body: dict) -> dict:
        seen.append(body)
        return {"answer": "no entry", "species_id": body.get("species_id"), "citations": []}

    app.include_router(router)
    app.state.chat_enabled = True
    app.state.seen_chat = seen
    with running_server(app) as url:
        yield url, seen


def test_unknown_species_is_said_with_relatives_and_the_chat_gets_the_photo(base_url, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, seen = base_url
    photo = tmp_path / "butterfly.jpg"
    photo.write_bytes(make_images()["jpeg"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url + "/")
            page.set_input_files("#file", str(photo))
            expect(page.locator("#answer-name")).to_have_text("Probably a species I don't know")
            expect(page.locator("#verdict-badge")).to_have_text("Species I don't know")
            expect(page.locator("#relatives-box")).to_be_visible()
            expect(page.locator("#answer-sci")).to_contain_text("genus Danaus")  # its genus, not a species
            expect(page.locator("#relatives button")).to_have_count(3)
            expect(page.locator("#species")).to_be_hidden()  # no species card claims the photo
            page.fill("#chat-input", "What does it eat?")
            page.press("#chat-input", "Enter")
            expect(page.locator("#chat-log .a")).to_contain_text("no entry")
            assert seen and seen[-1].get("species_id") is None
            assert seen[-1]["photo"]["known_species"] is False and seen[-1]["photo"]["relatives"]
            page.locator("#relatives button").first.click()  # a relative's card, then chat about it
            expect(page.locator("#species")).to_be_visible()
            assert not errors, errors
        finally:
            browser.close()
