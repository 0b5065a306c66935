"""The Beam runner writes the same records as the local runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterflyer.data.records import RecordsConfig, build_records

pytest.importorskip("apache_beam")


@pytest.mark.slow
def test_beam_and_local_runners_write_identical_records(small_interim: Path, tmp_path: Path):
    cfg = RecordsConfig(shard_mb=0.05, workers=2)
    local = build_records(small_interim, str(tmp_path / "local"), runner="local", config=cfg)
    beam = build_records(small_interim, str(tmp_path / "beam"), runner="beam", config=cfg)
    assert beam["runner"] == "beam" and local["runner"] == "local"
    assert beam["splits"] == local["splits"]  # same shard names, counts, sizes and sha256
    assert beam["fingerprint"] == local["fingerprint"]
    for split in local["splits"].values():
        for shard in split["shards"]:
            name = shard["name"]
            assert (tmp_path / "beam" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert not (tmp_path / "beam" / "_progress").exists()


@pytest.mark.slow
def test_beam_multi_process_workers_write_the_local_runners_bytes(small_interim: Path, tmp_path: Path):
    """Two SDK worker processes: every function and its arguments cross a process boundary
    pickled, as on Dataflow, and the shards still match the local runner's byte for byte."""
    cfg = RecordsConfig(shard_mb=0.05, workers=1)
    local = build_records(small_interim, str(tmp_path / "local"), runner="local", config=cfg)
    flags = ["--runner=DirectRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    beam = build_records(small_interim, str(tmp_path / "beam"), runner="beam", config=cfg, beam_options=flags)
    assert beam["splits"] == local["splits"] and beam["fingerprint"] == local["fingerprint"]
    names = [s["name"] for split in local["splits"].values() for s in split["shards"]]
    assert len(names) > 3
    for name in names:
        assert (tmp_path / "beam" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_dataflow_worker_requirements_cover_what_the_pickled_code_imports():
    """docker/dataflow-requirements.txt must name every third-party module the workers import."""
    import re
    import subprocess
    import sys

    probe = (
        "import sys; before = set(sys.modules); import butterflyer.data.beam_runner; "
        "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    cmd = [sys.executable, "-c", probe]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    modules = set(out.stdout.split()) - {"butterflyer"}
    third_party = {m for m in modules if m not in sys.stdlib_module_names and not m.startswith("_")}
    distribution = {"PIL": "pillow"}  # import name -> name on PyPI where they differ
    needed = {distribution.get(m, m).lower() for m in third_party}
    path = Path(__file__).resolve().parents[2] / "docker" / "dataflow-requirements.txt"
    listed = {re.split(r"[<>=!~;\[ ]", line.strip())[0].lower()
              for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert needed <= listed, f"add {sorted(needed - listed)} to {path.name}"
