"""Near-duplicate search (banded, exact for the threshold) and group-aware splitting."""

from __future__ import annotations

import numpy as np
import pytest

from butterflyer.data.dedup import exact_groups, near_groups, near_pairs
from butterflyer.data.split import resolve_source_split, stratified_group_split
from butterflyer.errors import ConfigError


@pytest.mark.parametrize("threshold", [0, 3, 6, 10])
def test_banded_search_finds_exactly_the_brute_force_pairs(threshold: int):
    rng = np.random.default_rng(threshold)
    base = rng.integers(0, 2**63, size=150, dtype=np.uint64)
    # Plant close relatives: flip a few random bits of some hashes.
    extra = []
    for h in base[:60]:
        flips = rng.choice(64, size=rng.integers(0, 12), replace=False)
        mask = np.uint64(sum(1 << int(b) for b in flips))
        extra.append(h ^ mask)
    hashes = np.concatenate([base, np.array(extra, dtype=np.uint64)])
    dist = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    expected = {
        (i, j) for i in range(len(hashes)) for j in range(i + 1, len(hashes)) if dist[i, j] <= threshold
    }
    got = near_pairs(hashes, threshold)
    assert {(i, j) for i, j, _ in got} == expected
    assert all(d == dist[i, j] for i, j, d in got)


def test_same_constraint_and_groups_are_transitive():
    hashes = np.array([0b0, 0b1, 0b11, 0b1111111111, 0b0], dtype=np.uint64)
    groups, _ = near_groups(hashes, 1)
    assert groups == [[0, 1, 2, 4]]
    groups, _ = near_groups(hashes, 1, same=["a", "a", "a", "b", "b"])
    assert groups == [[0, 1, 2]]
    assert exact_groups(["x", "y", "x", "z", "y"]) == [[0, 2], [1, 4]]


def test_spanning_groups_move_to_their_earliest_split():
    splits = ["test", "train", "val", "test", "val"]
    new, moved = resolve_source_split(splits, [[0, 1], [2, 3], [4]])
    assert new == ["train", "train", "val", "val", "val"]
    assert moved == [0, 3]


def test_stratified_group_split_keeps_ratios_and_groups():
    labels = ["a"] * 50 + ["b"] * 30
    groups = [[0, 1, 2, 3, 4], [50, 51]]
    out = stratified_group_split(labels, groups, (0.8, 0.1, 0.1), seed=0)
    assert len({out[i] for i in groups[0]}) == 1 and len({out[i] for i in groups[1]}) == 1
    for label, n in (("a", 50), ("b", 30)):
        counts = {
            s: sum(1 for i, x in enumerate(out) if x == s and labels[i] == label)
            for s in ("train", "val", "test")
        }
        assert abs(counts["train"] - 0.8 * n) <= 5 and counts["val"] >= 1 and counts["test"] >= 1
    assert out == stratified_group_split(labels, groups, (0.8, 0.1, 0.1), seed=0)
    assert out != stratified_group_split(labels, groups, (0.8, 0.1, 0.1), seed=1)
    with pytest.raises(ConfigError):
        stratified_group_split(labels, groups, (0.8, -0.1, 0.3), seed=0)
