"""Both notebooks execute top to bottom on tiny synthetic data, so they cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterflyer.models import ModelMeta, create_model, data_config_for, save_model

from .conftest import LABELS

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = pytest.mark.slow


def _run(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, cwd: Path) -> str:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    return "\n".join(
        o.get("text", "")
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_eda_notebook(image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dup = image_folder / "test" / LABELS[0] / "dup.jpg"  # a planted cross-split duplicate
    dup.write_bytes((image_folder / "train" / LABELS[0] / "000.jpg").read_bytes())
    text = _run(
        "eda.ipynb", {"BUTTERFLYER_NB_DATA": str(image_folder), "MPLBACKEND": "Agg"}, monkeypatch, tmp_path
    )
    assert "3 classes" in text
    count = int(text.split(" val/test images are near-duplicates")[0].split()[-1])
    assert count >= 1


def test_model_testing_notebook(image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = ModelMeta(architecture="tiny", labels=LABELS, data_config=data_config_for("tiny"))
    folder = save_model(create_model("tiny", len(LABELS)), tmp_path / "model", meta)
    text = _run(
        "model_testing.ipynb",
        {"BUTTERFLYER_NB_DATA": str(image_folder), "BUTTERFLYER_NB_MODEL": str(folder), "MPLBACKEND": "Agg"},
        monkeypatch,
        tmp_path,
    )
    assert "mistakes out of 24" in text
