"""The data CLI end to end on a tiny folder, and its error path."""

from __future__ import annotations

from pathlib import Path

import pytest
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


@pytest.mark.parametrize("columns", [None, "40"])
def test_errors_are_one_line_with_exit_status_2(tmp_path: Path, columns: str | None):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns:
        env["COLUMNS"] = columns
    # a long path: the message is far wider than 40 or 80 columns
    missing = tmp_path / ("deep-folder-name-" * 6) / "missing"
    proc = subprocess.run(
        [sys.executable, "-m", "butterflyer.cli.main", "data", "collect", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "does not exist" in lines[0] and str(missing) in lines[0] and "Traceback" not in proc.stderr
