"""MODEL_CARD.md: Wilson intervals, only the folder's figures, written at registration, shown by the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from butterflyer.cli.main import app
from butterflyer.models import ModelMeta
from butterflyer.registry.model_card import CARD_FILE, render_model_card, wilson_interval


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(480, 500)  # 96 % of 500
    assert low == pytest.approx(0.93903, abs=1e-5) and high == pytest.approx(0.97396, abs=1e-5)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_card_reports_what_the_folder_holds(make_model) -> None:
    folder = make_model(top1=0.96)
    meta = ModelMeta.load(folder)
    meta.labels = ["BANDED PEACOCK", "HERCULES MOTH", "ATLAS MOTH"]
    meta.metrics.update(test_n=500, test_top5=0.99, test_ece=0.12, test_ece_calibrated=0.02)
    meta.extra["serving"] = {"gate": {"kind": "neighbours"}, "thresholds": {"species": 0.6, "genus": 0.7,
                                                                           "family": 0.8},
                             "fitted": {"gate_threshold": 0.41, "gate_images": 90, "tune_false_reject": 0.01,
                                        "tune_images": 300, "target_precision": 0.95}}
    meta.save(folder)
    (folder.parent / "report-test").mkdir()
    (folder.parent / "report-test" / "metrics.json").write_text(json.dumps(
        {"n": 500, "most_confused": [{"true": "ATLAS MOTH", "predicted": "HERCULES MOTH", "count": 3}]}))
    card = render_model_card(folder)
    assert "| test top-1 | 96.0 % | 93.9 % to 97.4 % (n = 500) |" in card
    assert "Anartia fatima" in card and "Atlas-type moths" in card
    assert "0.120 before, 0.020 after" in card
    assert "wrongly turned away on the validation split: 1.0 %" in card and "n = 300" in card
    assert "ATLAS MOTH -> HERCULES MOTH: 3" in card
    assert "## Known failure modes" in card


def test_missing_figures_are_said_to_be_missing(make_model) -> None:
    card = render_model_card(make_model(top1=None))
    assert "| test top-1 | not recorded | |" in card
    assert "No fitted gate in this folder" in card and "none known for these labels" in card


def test_registration_writes_the_card_and_models_show_prints_it(mlflow_store, make_model) -> None:
    folder = make_model(top1=0.9)
    runner = CliRunner()
    assert runner.invoke(app, ["models", "register", str(folder)]).exit_code == 0
    assert (folder / CARD_FILE).read_text().startswith("# Model card: ButterFlyer tiny")
    assert runner.invoke(app, ["models", "promote", "1"]).exit_code == 0
    shown = runner.invoke(app, ["models", "show", "champion", "--card"])
    assert shown.exit_code == 0, shown.output
    assert shown.output == (folder / CARD_FILE).read_text()  # the registered artifact carries the card
