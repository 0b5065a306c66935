"""``butterflyer identify`` and ``butterflyer serve`` wiring, through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from butterflyer.cli.main import app

from .conftest import make_images


def _write_images(folder: Path) -> list[Path]:
    folder.mkdir()
    imgs = make_images()
    paths = []
    for name in ("jpeg", "png", "text"):
        path = folder / f"{name}.{'jpg' if name != 'text' else 'png'}"  # the text file lies about its type
        path.write_bytes(imgs[name])
        paths.append(path)
    return paths


def test_identify_json_has_the_api_fields_and_reports_bad_files(tiny_model: Path, tmp_path: Path) -> None:
    paths = _write_images(tmp_path / "photos")
    res = CliRunner().invoke(app, ["identify", *map(str, paths), "--json", "--model", str(tiny_model),
                                   "--threads", "1"])
    assert res.exit_code == 1, res.output  # one file was bad
    lines = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    assert len(lines) == 3
    good, bad = lines[:2], lines[2]
    for obj in good:
        assert {"verdict", "species", "taxon", "top_k", "model", "latency_ms", "file"} <= set(obj)
    assert bad["error"] == "not_an_image" and bad["file"].endswith("text.png")


def test_identify_a_folder_with_heatmaps(tiny_model: Path, tmp_path: Path) -> None:
    paths = _write_images(tmp_path / "photos")
    paths[2].unlink()
    out = tmp_path / "maps"
    res = CliRunner().invoke(app, ["identify", str(tmp_path / "photos"), "--model", str(tiny_model),
                                   "--explain-dir", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["jpeg.heatmap.png", "png.heatmap.png"]


def test_identify_with_a_missing_model_says_how_to_fix_it(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["identify", str(tmp_path), "--model", str(tmp_path / "nope")])
    assert res.exit_code != 0
    assert "does not exist" in str(res.exception)


def test_serve_refuses_bad_settings(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["serve", "--model", str(tmp_path), "--port", "70000"])
    assert res.exit_code != 0
    assert "port" in str(res.exception)


def test_identify_accepts_the_training_run_folder(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_model, run / "model")  # the layout 'butterflyer train --output run' writes
    photo = _write_images(tmp_path / "photos")[0]
    res = CliRunner().invoke(app, ["identify", str(photo), "--json", "--model", str(run), "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.splitlines()[-1])["file"].endswith("jpeg.jpg")
