"""The whole stage on a tiny model and synthetic records: outputs, report, shipping rule, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from butterflyer.cli.main import app
from butterflyer.compress.config import CompressConfig, profile_config
from butterflyer.compress.stage import compress
from butterflyer.errors import CompressionError, ConfigError
from butterflyer.models import ModelMeta, load_model

FAST = {"target": 0.5, "steps": 2, "finetune_steps": 6, "batch_size": 8, "train_resolution": 24,
        "train_per_class": 16, "calibration_images": 24, "latency_repeats": 5, "latency_budget_s": 1.0}


def test_compress_end_to_end(tiny_dir: Path, records_uri: str, tmp_path: Path) -> None:
    result = compress(tiny_dir, records_uri, tmp_path / "out", CompressConfig(**FAST))
    out = tmp_path / "out"
    for name in ("compression.md", "compression.json", "compression.png", "config.json"):
        assert (out / name).is_file(), name
    assert result.report_md == out / "compression.md"
    report = json.loads((out / "compression.json").read_text())
    names = [r["name"] for r in report["rows"]]
    assert names[0] == "tiny teacher (PyTorch)" and "pruned + KD + int8 (ONNX)" in names
    rows = {r["name"]: r for r in report["rows"]}
    pruned = rows["pruned + KD (ONNX fp32)"]
    assert pruned["macs"] <= 0.5 * 1.03 * rows["tiny teacher (PyTorch)"]["macs"]
    assert pruned["parity_max_prob_diff"] < 1e-4
    for row in report["rows"]:
        assert row["test_top1"] is not None and set(row["latency_ms"]) == {"1", "2"}
    # shipped: an ONNX folder with meta.json, never worse on val than the rule allows
    ship = rows[result.shipped]
    assert result.ship_dir == Path(ship["model_dir"]) and (result.ship_dir / "model.onnx").is_file()
    assert ship["val_top1"] >= rows["tiny teacher (PyTorch)"]["val_top1"] - 0.01
    meta = ModelMeta.load(result.ship_dir)
    assert meta.extra.get("shipped") is True
    assert meta.metrics["test_top1"] == ship["test_top1"]  # fractions in report and model, as training
    assert 0.0 <= ship["test_top1"] <= 1.0
    assert report["targets"]["onnx_parity_ok"] is True
    # its gate was fitted as it will be served, stamped with the records, and measured
    from butterflyer.data.manifest import manifest_sha256
    from butterflyer.serve.ood_neighbours import GATE_FILE

    serving = meta.extra["serving"]
    assert serving["gate"]["kind"] == "feature_neighbours" and (result.ship_dir / GATE_FILE).is_file()
    assert serving["fitted"]["records_sha"] == manifest_sha256(records_uri)
    rejected, total = (int(x) for x in ship["gate_everyday_rejected"].split("/"))
    # the report's counts are what the shipped folder's fitted gate does when served
    from butterflyer.serve.everyday import everyday_photos
    from butterflyer.serve.fit import measure_gate, records_examples
    from butterflyer.serve.identify import Identifier
    from butterflyer.serve.settings import ServeSettings

    served = Identifier.load(str(result.ship_dir), ServeSettings.model_validate(
        {"model_uri": str(result.ship_dir), "threads": 1}))
    measured = measure_gate(served, records_examples(records_uri, "test"))
    assert total == len(everyday_photos()) >= 20
    assert rejected == sum(v == "not_a_butterfly" for v in measured["everyday"].values())
    assert ship["gate_test_false_reject"] == pytest.approx(measured["false_reject_rate"])
    assert report["targets"]["ship_gate_everyday_rejected"] == ship["gate_everyday_rejected"]
    # the pruned PyTorch model reloads, with both heads consistent
    model, pmeta = load_model(out / "pruned")
    assert pmeta.stage == "pruned" and model.imagenet_head.in_features == model.head.in_features
    assert pmeta.extra["compression"]["macs_ratio"] <= 0.5 * 1.03
    assert "| variant |" in result.report_md.read_text()


def test_compress_refuses_aggressive_target_before_work(tiny_dir: Path, records_uri: str,
                                                        tmp_path: Path) -> None:
    with pytest.raises(CompressionError, match="breaks the model"):
        compress(tiny_dir, records_uri, tmp_path / "out", CompressConfig(**{**FAST, "target": 0.003}))
    assert not (tmp_path / "out").exists()


def test_profiles_and_bad_settings() -> None:
    assert profile_config("full").steps > profile_config("fast").steps
    assert profile_config("int8").prune is False and profile_config("fast").prune is True
    assert profile_config("fast", target=0.6).target == 0.6
    with pytest.raises(ConfigError, match="unknown compression profile"):
        profile_config("turbo")
    with pytest.raises(ConfigError, match="too small"):
        profile_config("fast", train_resolution=8)


def test_cli_export_and_clear_errors(tiny_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["compress", "export", str(tiny_dir), "--output", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x" / "model.onnx").is_file()
    result = runner.invoke(app, ["compress", "run", str(tiny_dir), "--target", "0.001",
                                 "--input", str(tmp_path)])
    assert result.exit_code != 0 and isinstance(result.exception, CompressionError)
    assert "breaks the model" in str(result.exception)


def test_the_int8_profile_builds_no_pruned_model(tiny_dir: Path, records_uri: str, tmp_path: Path) -> None:
    config = profile_config("int8", **{k: v for k, v in FAST.items() if k not in ("target", "steps")})
    assert config.prune is False
    result = compress(tiny_dir, records_uri, tmp_path / "out", config)
    names = [r["name"] for r in json.loads((tmp_path / "out" / "compression.json").read_text())["rows"]]
    assert names == ["tiny teacher (PyTorch)", "teacher (ONNX fp32)", "teacher + int8 (ONNX)"]
    assert not (tmp_path / "out" / "pruned").exists()  # no minutes spent on a model that is not offered
    assert result.shipped in names[1:] and (result.ship_dir / "model.onnx").is_file()
