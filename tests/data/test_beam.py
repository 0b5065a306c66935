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
