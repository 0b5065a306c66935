"""Assign images to train/val/test so that no duplicate group spans two splits.

Two cases:

- the source has its own split (kept): a group whose members sit in different
  splits is moved whole into the earliest of them (train before val before
  test), so test photos never have a copy in train; every move is reported;
- no source split: a seeded split, stratified by label, that places whole
  groups, filling each split toward its ratio.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from butterflyer.errors import ConfigError

SPLIT_ORDER = ("train", "val", "test")


def resolve_source_split(
    splits: Sequence[str], groups: Sequence[Sequence[int]]
) -> tuple[list[str], list[int]]:
    """Keep each image's source split, but move every spanning group into its earliest split.

    Returns the new split per image and the indices that moved.
    """
    out = list(splits)
    moved: list[int] = []
    for group in groups:
        present = {out[i] for i in group}
        if len(present) < 2:
            continue
        target = min(present, key=SPLIT_ORDER.index)
        for i in group:
            if out[i] != target:
                out[i] = target
                moved.append(i)
    return out, sorted(moved)


def stratified_group_split(
    labels: Sequence[str], groups: Sequence[Sequence[int]], ratios: tuple[float, float, float], seed: int
) -> list[str]:
    """Seeded split by label that never separates a group; returns a split name per image."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConfigError(
            f"split ratios must be three non-negative numbers (train, val, test), got {ratios}."
        )
    total = sum(ratios)
    weights = [r / total for r in ratios]
    owner = {i: g for g in groups for i in g}
    units_by_label: dict[str, list[list[int]]] = defaultdict(list)
    seen: set[int] = set()
    for i, label in enumerate(labels):
        if i in seen:
            continue
        unit = sorted(owner.get(i, [i]))
        seen.update(unit)
        units_by_label[label].append(unit)
    out = [""] * len(labels)
    for label in sorted(units_by_label):
        units = units_by_label[label]
        random.Random(f"{seed}:{label}").shuffle(units)
        counts = [0, 0, 0]
        for unit in units:
            placed = sum(counts) + len(unit)
            deficit = [weights[k] * placed - counts[k] for k in range(3)]
            k = max(range(3), key=lambda k: (deficit[k], -k))
            counts[k] += len(unit)
            for i in unit:
                out[i] = SPLIT_ORDER[k]
    return out
