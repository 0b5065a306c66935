"""A training run folder is accepted wherever a model folder is, and a wrong folder says what it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterflyer.errors import ModelError, RegistryError
from butterflyer.models import ModelMeta, create_model, save_model
from butterflyer.models.folder import resolve_model_folder
from butterflyer.registry.resolve import resolve_model_uri


def _run_folder(tmp_path: Path) -> Path:
    """What 'butterflyer train --output RUN' writes: RUN/model/ beside the run's other files."""
    run = tmp_path / "run"
    save_model(create_model("tiny", 3, pretrained=False), run / "model",
               ModelMeta(architecture="tiny", labels=["a", "b", "c"]))
    (run / "report.md").write_text("# run\n")
    return run


def test_a_model_folder_and_a_run_folder_resolve_to_the_model(tmp_path):
    run = _run_folder(tmp_path)
    assert resolve_model_folder(run / "model") == run / "model"
    assert resolve_model_folder(run) == run / "model"
    assert resolve_model_uri(str(run)) == (run / "model").resolve()
    assert resolve_model_uri(f"file://{run}") == (run / "model").resolve()


def test_a_wrong_folder_says_what_it_found_and_what_to_give(tmp_path):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "a.jpg").write_bytes(b"x")
    (other / "sub").mkdir()
    with pytest.raises(ModelError) as info:
        resolve_model_folder(other)
    message = str(info.value)
    assert "a.jpg, sub/" in message and "no meta.json" in message and "run folder" in message
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model_folder(tmp_path / "missing")
    with pytest.raises(RegistryError, match="a.jpg"):
        resolve_model_uri(str(other))


def test_models_register_accepts_a_run_folder(tmp_path, mlflow_store):
    from typer.testing import CliRunner

    from butterflyer.cli.main import app
    from butterflyer.registry import store

    run = _run_folder(tmp_path)
    result = CliRunner().invoke(app, ["models", "register", str(run)])
    assert result.exit_code == 0, result.output
    assert store.list_versions()[0].tags["source_dir"] == str((run / "model").resolve())
