"""Component helpers and the step cache, without kfp."""

from __future__ import annotations

import json
from pathlib import Path

from kfp.dsl import Dataset, Metrics

from butterflyer.pipeline import runtime
from butterflyer.pipeline.stepcache import NO_CACHE_ENV, cached_step


def test_location_maps_gcs_mount_and_makes_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runtime.location("/gcs/bucket/home/records") == "gs://bucket/home/records"
    assert runtime.location("records") == str(tmp_path / "records")
    assert runtime.location("s3://b/x") == "s3://b/x"


def test_publish_points_the_artifact_at_the_data_and_drops_volatile_keys(tmp_path):
    art = Dataset(name="records", uri=str(tmp_path / "kfp-output"))
    runtime.publish(art, {"uri": str(tmp_path / "records"), "manifest_sha256": "abc", "counts": {"train": 3},
                          "cached": True, "step_key": "k", "metrics": {"x": 1.0}})
    assert art.uri == str(tmp_path / "records")
    assert art.metadata == {"manifest_sha256": "abc", "counts": {"train": 3}}


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
        return {"uri": str(out), "value": len(runs)}

    first = cached_step("s", {"a": 1}, run)
    second = cached_step("s", {"a": 1}, run)
    assert (first["cached"], second["cached"], second["value"], len(runs)) == (False, True, 1, 1)
    cached_step("s", {"a": 2}, run)
    assert len(runs) == 2
    out.rmdir()
    assert not cached_step("s", {"a": 1}, run)["cached"] and len(runs) == 3
    monkeypatch.setenv(NO_CACHE_ENV, "1")
    cached_step("s", {"a": 1}, run)
    assert len(runs) == 4


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
