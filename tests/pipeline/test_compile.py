"""The committed pipeline.yaml matches the code, and the DAG is wired as documented."""

from __future__ import annotations

import yaml

from butterflyer.pipeline.compile import REPO_PIPELINE, compiled_text


def test_committed_pipeline_yaml_is_up_to_date():
    assert REPO_PIPELINE.is_file(), "pipeline.yaml is missing: run 'butterflyer pipeline compile'"
    assert REPO_PIPELINE.read_text() == compiled_text(), \
        "pipeline.yaml is out of date: run 'butterflyer pipeline compile' and commit it"


def test_dag_wiring_gpu_caching_and_condition():
    spec = yaml.safe_load(compiled_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert {"collect-op", "prepare-op", "build-records-op", "train-op", "evaluate-op", "evaluate-op-2",
            "compress-op", "fit-serving-op", "register-op", "condition-1"} <= set(tasks)
    assert tasks["collect-op"]["cachingOptions"] == {}  # never cached: the source is re-checked
    assert tasks["register-op"]["cachingOptions"] == {}
    assert tasks["train-op"]["cachingOptions"]["enableCache"] is True
    assert tasks["train-op"]["dependentTasks"] == ["build-records-op"]
    assert "register-op" in tasks["condition-1"]["dependentTasks"]
    assert "Output" in tasks["condition-1"]["triggerPolicy"]["condition"]
    executors = spec["deploymentSpec"]["executors"]
    train = executors["exec-train-op"]["container"]
    assert train["resources"]["accelerator"]["resourceCount"] == "1"
    assert train["image"] == "butterflyer/train:0.1.0"
    # install_kfp_package=False: nothing is pip-installed when a task starts
    assert all("pip install" not in " ".join(e["container"]["command"]) for e in executors.values())


def test_compile_with_other_images_and_cpu_only():
    from butterflyer.pipeline.components import Images

    text = compiled_text(Images.from_prefix("us-docker.pkg.dev/p/r:1.2"), gpus=0)
    assert "us-docker.pkg.dev/p/r/train:1.2" in text and "accelerator" not in text


def test_images_from_prefix():
    from butterflyer.pipeline.components import Images

    assert Images.from_prefix("reg.io/p/r").data == "reg.io/p/r/data:0.1.0"
    assert Images.from_prefix("reg.io:5000/p/r:v2").workflow == "reg.io:5000/p/r/workflow:v2"
    assert Images.from_prefix("reg.io:5000/p/r").train == "reg.io:5000/p/r/train:0.1.0"


def test_compile_check_cli_fails_on_stale_file(tmp_path):
    from typer.testing import CliRunner

    from butterflyer.cli.main import app

    stale = tmp_path / "pipeline.yaml"
    stale.write_text("old\n")
    result = CliRunner().invoke(app, ["pipeline", "compile", "--output", str(stale), "--check"])
    assert result.exit_code != 0 and "out of date" in str(result.exception)
    assert CliRunner().invoke(app, ["pipeline", "compile", "--output", str(stale)]).exit_code == 0
    assert CliRunner().invoke(app, ["pipeline", "compile", "--output", str(stale), "--check"]).exit_code == 0
