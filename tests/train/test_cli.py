"""``butterflyer train`` and ``butterflyer evaluate`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from butterflyer.cli.main import app


def test_train_then_evaluate(image_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "train",
            "--input",
            str(image_folder),
            "--output",
            str(out),
            "--model",
            "tiny",
            "--profile",
            "full",
            "--epochs",
            "3",
            "--batch-size",
            "8",
            "--lr",
            "0.003",
            "--augment",
            "none",
            "--tracker",
            "none",
        ],
    )
    assert res.exit_code == 0, res.output
    model_dir = out / "model"
    assert str(model_dir) in res.stdout
    res = runner.invoke(
        app,
        [
            "evaluate",
            str(model_dir),
            "--input",
            str(image_folder),
            "--split",
            "val",
            "--out",
            str(tmp_path / "rep"),
            "--calibrate",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.md").is_file()


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "butterflyer.cli.main",
            "train",
            "--input",
            str(tmp_path / "x"),
            "--model",
            "tiny",
            "--tracker",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
