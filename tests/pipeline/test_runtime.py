"""Component helpers and the step cache, without kfp."""

from __future__ import annotations

import json
from pathlib import Path

from kfp.dsl import Dataset, Metrics

from butterflyer.pipeline import runtime, stepcache
from butterflyer.pipeline.results import Evaluation, Records, TrainedModel
from butterflyer.pipeline.stepcache import NO_CACHE_ENV, cached_step


def test_location_maps_gcs_mount_and_makes_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runtime.location("/gcs/bucket/home/records") == "gs://bucket/home/records"
    assert runtime.location("records") == str(tmp_path / "records")
    assert runtime.location("s3://b/x") == "s3://b/x"


def test_publish_points_the_artifact_at_the_data_and_drops_volatile_keys(tmp_path):
    art = Dataset(name="records", uri=str(tmp_path / "kfp-output"))
    runtime.publish(art, Records(uri=str(tmp_path / "records"), manifest_sha256="abc", counts={"train": 3},
                                 cached=True, step_key="k", reason="inputs and code unchanged"))
    assert art.uri == str(tmp_path / "records")
    assert art.metadata == {"manifest_sha256": "abc", "counts": {"train": 3}, "num_classes": 0}


def test_publish_metrics_logs_and_writes_a_file(tmp_path):
    art = Metrics(name="metrics", uri=str(tmp_path / "m" / "metrics"))
    runtime.publish_metrics(art, {"test_top1": 0.9})
    assert art.metadata == {"test_top1": 0.9}
    assert json.loads(Path(art.path).read_text()) == {"test_top1": 0.9}
    assert runtime.metrics_of(Metrics(name="m", uri=art.uri)) == {"test_top1": 0.9}


def test_use_home_maps_a_bucket_to_the_gcs_mount(monkeypatch):
    from butterflyer.pipeline.steps import use_home

    use_home("gs://bucket/home")
    import os

    assert os.environ["BUTTERFLYER_HOME"] == "/gcs/bucket/home"


def test_cached_step_skips_until_inputs_change_or_output_disappears(tmp_path, monkeypatch):
    out = tmp_path / "out"
    runs = []

    def run():
        runs.append(1)
        out.mkdir(exist_ok=True)
        return Evaluation(uri=str(out), metrics={"test_top1": len(runs) / 10})

    first = cached_step("s", {"a": 1}, run, Evaluation)
    second = cached_step("s", {"a": 1}, run, Evaluation)
    assert (first.cached, second.cached, second.metrics, len(runs)) == (False, True, {"test_top1": 0.1}, 1)
    assert first.reason == "first run" and second.reason == "inputs and code unchanged"
    assert cached_step("s", {"a": 2}, run, Evaluation).reason == "inputs changed: a"
    assert len(runs) == 2
    out.rmdir()
    again = cached_step("s", {"a": 1}, run, Evaluation)
    assert not again.cached and len(runs) == 3 and "inputs changed: a" in again.reason
    monkeypatch.setenv(NO_CACHE_ENV, "1")
    cached_step("s", {"a": 1}, run, Evaluation)
    assert len(runs) == 4


def test_a_change_to_the_stage_code_reruns_the_step_and_says_why(tmp_path, monkeypatch):
    out = tmp_path / "model"
    out.mkdir()
    runs = []

    def run():
        runs.append(1)
        return TrainedModel(uri=str(out), metrics={"val_top1": 0.5})

    assert not cached_step("train", {"records_sha": "x"}, run, TrainedModel).cached
    assert cached_step("train", {"records_sha": "x"}, run, TrainedModel).cached
    real = stepcache.package_digest
    # a fix to the trainer: the train package's source hash changes, the others do not
    monkeypatch.setattr(stepcache, "package_digest", lambda pkg: "fixed" * 4 if pkg == "train" else real(pkg))
    rerun = cached_step("train", {"records_sha": "x"}, run, TrainedModel)
    assert not rerun.cached and rerun.reason == "code changed: train" and len(runs) == 2
    assert cached_step("train", {"records_sha": "x"}, run, TrainedModel).cached


def test_the_package_digest_follows_the_source(tmp_path, monkeypatch):
    pkg = tmp_path / "butterflyer"
    (pkg / "train").mkdir(parents=True)
    (pkg / "train" / "loop.py").write_text("x = 1\n")
    monkeypatch.setattr(stepcache, "PACKAGE_ROOT", pkg)
    stepcache.package_digest.cache_clear()
    before = stepcache.package_digest("train")
    (pkg / "train" / "loop.py").write_text("x = 2\n")
    stepcache.package_digest.cache_clear()
    assert stepcache.package_digest("train") != before
    stepcache.package_digest.cache_clear()


def test_quiet_local_runs_keep_status_lines_on_the_console(tmp_path, capsys):
    from butterflyer.pipeline.local import _StatusFilter

    log = tmp_path / "run.log"
    with open(log, "w") as fh:
        sink = _StatusFilter(fh)
        sink.write("12:00 - INFO - Executing task 'train-op'\n    {\"executor\": 1}\n")
        sink.write("12:01 - INFO - Task 'train-op' finished with status SUCCESS\npartial")
    out = capsys.readouterr().out
    assert "Executing task 'train-op'" in out and "finished with status" in out and "executor" not in out
    assert "executor" in log.read_text() and log.read_text().endswith("partial")


def test_path_of_a_bucket_artifact_without_the_gcs_mount_is_its_uri(tmp_path) -> None:
    from types import SimpleNamespace

    records = SimpleNamespace(uri="gs://bf/records", path="/gcs/bf/records")
    local = SimpleNamespace(uri=str(tmp_path), path=str(tmp_path))
    expected = "/gcs/bf/records" if Path(runtime.GCS_MOUNT).is_dir() else "gs://bf/records"
    assert runtime.path_of(records) == expected
    assert runtime.path_of(local) == str(tmp_path)


def test_the_run_summary_lists_the_steps_the_orchestrator_skipped(tmp_path):
    from butterflyer.pipeline.local import DAG_STEPS, _steps

    journal = tmp_path / "run.steps.jsonl"
    journal.write_text('{"step": "collect", "seconds": 0.1, "cached": false, "reason": ""}\n'
                       '{"step": "register", "seconds": 2.0, "cached": false, "reason": ""}\n')
    steps = _steps(journal)
    assert [s["step"] for s in steps[:2]] == ["collect", "register"]
    skipped = [s["step"] for s in steps[2:]]
    assert sorted(skipped) == sorted(s for s in DAG_STEPS if s not in ("collect", "register"))
    assert all(s["cached"] and "orchestrator cache" in s["reason"] for s in steps[2:])


def test_progress_lines_are_marked_throttled_and_reach_a_quiet_console(tmp_path, capsys):
    from butterflyer.pipeline.local import _StatusFilter
    from butterflyer.pipeline.progress import MARK, reporter

    progress = reporter("compress", every_s=3600)
    progress("distilling", 1, 4)
    progress("distilling", 2, 4)  # same phase within the interval: not printed
    progress("quantizing", 0, 0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{MARK} compress: distilling 1/4")
    assert "left" in lines[0] and "quantizing" in lines[1]
    with open(tmp_path / "log", "w") as fh:
        sink = _StatusFilter(fh, quiet=True)
        sink.write(f"noise\n    {lines[0]}\n")
    assert capsys.readouterr().out == f"    {lines[0]}\n"
