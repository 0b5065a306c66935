"""The data CLI end to end on a tiny folder, and its error path."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from butterflyer import paths
from butterflyer.cli.main import app
from butterflyer.data.manifest import read_manifest


def test_collect_prepare_build_records(tmp_path: Path, save_image):
    root = tmp_path / "photos"
    for c, label in enumerate(("MONARCH", "ADMIRAL")):
        for k in range(10):
            save_image(root / label / f"{k}.jpg", 50 * c + k, size=(80, 60))
    runner = CliRunner()
    result = runner.invoke(app, ["data", "collect", str(root)])
    assert result.exit_code == 0, result.output
    assert "20 files" in result.output
    result = runner.invoke(
        app, ["data", "prepare", "--split", "random", "--ratios", "0.6,0.2,0.2", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "kept 20" in result.output
    result = runner.invoke(app, ["data", "build-records", "--workers", "1"])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(str(paths.records_dir()))
    assert {s: v["count"] for s, v in manifest["splits"].items()} == {"train": 12, "val": 4, "test": 4}
    again = runner.invoke(app, ["data", "prepare", "--split", "random", "--ratios", "0.6,0.2,0.2"])
    assert "nothing to do" in again.output


def test_errors_are_one_line_with_exit_status_2(tmp_path: Path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "butterflyer.cli.main", "data", "collect", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
