"""``/docs`` renders in a real headless Chromium with every non-loopback request blocked."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from butterflyer.serve.app import create_app
from butterflyer.serve.settings import ServeSettings

from .conftest import running_server
from .test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.browser


def test_api_docs_render_offline(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed; run 'make browser'")
    from playwright.sync_api import Route, expect, sync_playwright

    settings = ServeSettings(model_uri=str(tmp_path / "no-model"), refresh_seconds=0, chat=False)
    blocked: list[str] = []

    def offline(route: Route) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    with running_server(create_app(settings)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.route("**/*", offline)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("ButterFlyer", timeout=15_000)
            expect(page.locator(".opblock-summary-path", has_text="/v1/identify")).to_be_visible()
            assert not errors, errors
        finally:
            browser.close()
    assert not blocked, f"the page asked the network for {blocked}"
