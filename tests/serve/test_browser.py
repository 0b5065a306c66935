"""End to end in a real headless Chromium: open the page, upload a photo, read the answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import (
    app_serving,
    danaus_catalog,
    imagenet_logits,
    make_constant_onnx,
    make_images,
    running_server,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(params=[False, True], ids=["without-chat", "with-chat"])
def base_url(tmp_path: Path, request: pytest.FixtureRequest):  # noqa: ANN201
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed; run 'make browser'")
    folder = make_constant_onnx(tmp_path / "m", [4.0, 1.0, 0.5], imagenet_logits(True),
                                labels=["MONARCH", "QUEEN", "VICEROY"], version="7")
    app = app_serving(folder, danaus_catalog())
    app.include_router(_stub_chat_router())  # stands in for the chat route to check the panel's contract
    app.state.chat_enabled = request.param
    with running_server(app) as url:
        yield url


def _stub_chat_router():  # noqa: ANN202
    from fastapi import APIRouter

    router = APIRouter()

    @router.post("/v1/chat")
    def chat(body: dict) -> dict:
        return {"answer": f"Echo about {body.get('species_id')}: {body['message']}", "species_id":
                body.get("species_id"), "citations": [{"entry": "Monarch", "section": "Food", "text": "..."}]}

    return router


def test_upload_shows_species_name(base_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    with_chat = "with-chat" in request.node.callspec.id
    from playwright.sync_api import expect, sync_playwright

    photo = tmp_path / "butterfly.jpg"
    photo.write_bytes(make_images()["jpeg"])
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(make_images()["text"])
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base_url + "/")
            expect(page.locator("h1")).to_contain_text("ButterFlyer")
            if not with_chat:
                expect(page.locator("#chat")).to_be_hidden()  # the page works without the chat route

            page.set_input_files("#file", str(bad))
            expect(page.locator("#error")).to_contain_text("not a photo")

            page.set_input_files("#file", str(photo))
            expect(page.locator("#answer-name")).to_have_text("Monarch")
            expect(page.locator("#answer-sci")).to_have_text("Danaus plexippus")
            expect(page.locator("#alternatives li")).to_have_count(3)
            expect(page.locator("#species-name")).to_have_text("Monarch")
            expect(page.locator("#species-summary")).to_contain_text("black veins")
            expect(page.locator("#error")).to_be_hidden()
            page.check("#heatmap")  # asks again with explain=true and shows the overlay
            expect(page.locator("#preview")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
            page.uncheck("#heatmap")
            expect(page.locator("#preview")).to_have_attribute("src", re.compile(r"^blob:"))

            if with_chat:
                page.fill("#chat-input", "What does it eat?")
                page.press("#chat-input", "Enter")
                expect(page.locator("#chat-log .a")).to_contain_text("Echo about MONARCH: What does it eat?")
                expect(page.locator("#chat-log .cite")).to_contain_text("Monarch, Food")
            page.screenshot(path=str(ARTIFACTS / f"serve-page-{'chat' if with_chat else 'plain'}.png"),
                            full_page=True)

            page.locator("#alternatives button").nth(2).click()
            expect(page.locator("#species-name")).to_have_text("Viceroy")

            page.set_viewport_size({"width": 390, "height": 844})  # a phone
            if not with_chat:
                page.screenshot(path=str(ARTIFACTS / "serve-page-phone.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
