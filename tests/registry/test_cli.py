"""``butterflyer models ...`` and ``butterflyer up``'s missing-data message, through the real CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from butterflyer.cli.main import app

runner = CliRunner()


def test_models_register_list_show_promote_rollback(mlflow_store, make_model):
    for top1 in (0.7, 0.9):
        result = runner.invoke(app, ["models", "register", str(make_model(top1=top1))])
        assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and "70.00%" in listed.output and "90.00%" in listed.output
    assert runner.invoke(app, ["models", "promote", "1"]).exit_code == 0
    decided = runner.invoke(app, ["models", "decide", "2"])
    assert decided.exit_code == 0 and "PROMOTE" in decided.output
    shown = runner.invoke(app, ["models", "show", "champion"])
    assert json.loads(shown.output)["version"] == 2
    # the command's old name still works (hidden) for existing scripts
    again = runner.invoke(app, ["models", "gate", "2"])
    assert again.exit_code == 0 and "already the champion" in again.output
    rolled = runner.invoke(app, ["models", "rollback"])
    assert rolled.exit_code == 0 and "v1" in rolled.output
    assert json.loads(runner.invoke(app, ["models", "show"]).output)["version"] == 1


def test_models_show_unknown_alias_is_a_clear_error(mlflow_store):
    result = runner.invoke(app, ["models", "show", "champion"])
    assert result.exit_code != 0 and "no version or alias" in str(result.exception)


def test_up_without_data_says_how_to_pass_it(tmp_path):
    result = runner.invoke(app, ["up", "--data", str(tmp_path / "missing.zip"), "--no-serve"])
    assert result.exit_code != 0
    assert "not found" in str(result.exception) and "DATA=" in str(result.exception)
