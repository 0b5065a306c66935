"""The DAG under kfp.local with fake stages: first run, skipped rerun, a better model on new data."""

from __future__ import annotations

import json

import pytest

from butterflyer.registry import CHAMPION, store


def _run(source, calls):
    from butterflyer.pipeline.local import run_local

    if calls.exists():
        calls.unlink()
    result = run_local({"source": str(source), "compress": False}, verbose=False)
    assert result.log is not None and "executor" in result.log.read_text().lower()
    return result, calls.read_text().split()


@pytest.mark.slow
def test_local_pipeline_runs_skips_and_promotes(fake_stages, tmp_path):
    from butterflyer.paths import home

    source = tmp_path / "source.txt"
    source.write_text("one\n")
    first, calls = _run(source, fake_stages)
    assert sorted(calls) == sorted(["collect", "prepare", "build_records", "train", "evaluate", "compress",
                                    "fit_serving", "evaluate"])
    assert first.champion is not None and first.champion["version"] == 1
    ran = {s["step"]: s for s in first.steps}
    assert ran["train"]["cached"] is False and ran["train"]["reason"] == "first run"
    assert first.champion["tags"]["data_manifest_sha256"] == "sha-one"
    deployed = json.loads((home() / "pipeline" / "deployed.json").read_text())
    assert deployed["version"] == 1 and deployed["target"] == "local"

    again, calls = _run(source, fake_stages)
    assert calls == ["collect"]  # everything downstream hit the cache
    assert any(s["cached"] and s["step"] == "train" for s in again.steps), again.steps
    assert again.champion["version"] == 1 and len(store.list_versions()) == 1

    source.write_text("better\n")
    third, calls = _run(source, fake_stages)
    assert "train" in calls
    assert third.champion["version"] == 2, third.candidate["tags"].get("promotion.reason")
    assert "0.9000 vs champion v1 0.8000" in third.candidate["tags"]["promotion.reason"]
    assert store.alias_version(CHAMPION).version == 2
    assert json.loads((home() / "pipeline" / "deployed.json").read_text())["version"] == 2
