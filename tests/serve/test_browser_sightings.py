"""My sightings in a real headless Chromium: save, correct, map, Darwin Core download, delete."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from .conftest import (
    app_serving,
    danaus_catalog,
    encode,
    imagenet_logits,
    make_constant_onnx,
    photo,
    running_server,
)
from .test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.browser


@pytest.fixture
def base_url(tmp_path: Path):  # noqa: ANN201
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed; run 'make browser'")
    folder = make_constant_onnx(tmp_path / "m", [4.0, 1.0, 0.5], imagenet_logits(True),
                                labels=["MONARCH", "QUEEN", "VICEROY"], version="7")
    with running_server(app_serving(folder, danaus_catalog())) as url:
        yield url


def test_save_correct_export_and_delete_a_sighting(base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 0.0), 3: "E", 4: (2.0, 20.0, 0.0)})  # Paris
    shot = tmp_path / "garden.jpg"
    shot.write_bytes(encode(photo((160, 120)), "JPEG", exif=exif))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000}, accept_downloads=True)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base_url + "/")
            expect(page.locator("#sightings-empty")).to_be_visible()

            page.set_input_files("#file", str(shot))
            expect(page.locator("#answer-name")).to_have_text("Monarch")
            page.click("#save-sighting")
            expect(page.locator("#save-status")).to_contain_text("Saved to My sightings")
            items = page.locator("#sightings-list li")
            expect(items).to_have_count(1)
            expect(items.first.locator(".s-name")).to_have_text("Monarch")
            expect(page.locator("#map-points circle")).to_have_count(1)
            assert page.locator("#sightings-list img").first.evaluate("i => i.complete && i.naturalWidth") > 0
            cx = float(page.locator("#map-points circle").first.get_attribute("cx"))
            assert cx == pytest.approx(182.3333, abs=0.001)

            items.first.locator("select").select_option("VICEROY")
            expect(items.first.locator(".s-name")).to_have_text("Viceroy")
            expect(items.first).to_contain_text("corrected by you")

            page.check("#export-coords")
            with page.expect_download() as download:
                page.click("#export-dwc")
            text = Path(download.value.path()).read_text()
            row = next(csv.DictReader(io.StringIO(text)))
            assert row["scientificName"] == "Limenitis archippus"
            assert row["basisOfRecord"] == "HumanObservation"
            assert (row["decimalLatitude"], row["decimalLongitude"]) == ("48.800000", "2.300000")  # blurred
            page.screenshot(path=str(ARTIFACTS / "serve-page-sightings.png"), full_page=True)

            items.first.locator(".s-delete").click()
            expect(items).to_have_count(0)
            expect(page.locator("#map-points circle")).to_have_count(0)
            expect(page.locator("#sightings-empty")).to_be_visible()

            page.click("#model-card-link")
            expect(page.locator("#card")).to_contain_text("Model card: ButterFlyer tiny v7")
            assert not errors, errors
        finally:
            browser.close()
