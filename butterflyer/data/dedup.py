"""Group exact duplicates (same sha256) and near-duplicates (close perceptual hashes).

Near-duplicate search uses the pigeonhole principle so it scales past brute
force: cut the 64-bit hash into ``threshold + 1`` bands; two hashes within
``threshold`` bits agree exactly on at least one band, so only images sharing a
band value are compared. Pairs are joined with a union-find into groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

_BLOCK = 2048


class UnionFind:
    """Disjoint sets over ``0..n-1`` with path halving."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        """Sets with more than one member, each sorted, in order of their smallest member."""
        members: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            members[self.find(i)].append(i)
        return sorted((m for m in members.values() if len(m) > 1), key=lambda m: m[0])


def exact_groups(digests: Sequence[str]) -> list[list[int]]:
    """Indices sharing a content hash, groups of two or more."""
    by_digest: dict[str, list[int]] = defaultdict(list)
    for i, digest in enumerate(digests):
        by_digest[digest].append(i)
    return [idx for idx in by_digest.values() if len(idx) > 1]


def _bands(threshold: int) -> list[tuple[int, int]]:
    count = threshold + 1
    widths = [64 // count + (1 if i < 64 % count else 0) for i in range(count)]
    out, shift = [], 0
    for width in widths:
        out.append((shift, width))
        shift += width
    return out


def near_pairs(
    hashes: np.ndarray, threshold: int, same: Sequence[object] | None = None
) -> list[tuple[int, int, int]]:
    """``(i, j, distance)`` for every pair with Hamming distance <= ``threshold`` (``i < j``).

    With ``same`` (e.g. labels), only pairs with equal ``same[i] == same[j]`` count.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    if len(hashes) < 2 or threshold < 0:
        return []
    found: dict[tuple[int, int], int] = {}
    for shift, width in _bands(min(threshold, 63)):
        keys = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for lo, hi in zip(starts, ends, strict=True):
            if hi - lo < 2:
                continue
            idx = order[lo:hi]
            for a in range(0, len(idx), _BLOCK):
                rows = idx[a : a + _BLOCK]
                dist = np.bitwise_count(hashes[rows][:, None] ^ hashes[idx][None, :])
                r, c = np.nonzero(dist <= threshold)
                for ri, ci in zip(r.tolist(), c.tolist(), strict=True):
                    i, j = int(rows[ri]), int(idx[ci])
                    if i < j and (same is None or same[i] == same[j]):
                        found[(i, j)] = int(dist[ri, ci])
    return sorted((i, j, d) for (i, j), d in found.items())


def near_groups(
    hashes: np.ndarray, threshold: int, same: Sequence[object] | None = None
) -> tuple[list[list[int]], list[tuple[int, int, int]]]:
    """Connected groups of near-duplicate pairs, and the pairs themselves."""
    pairs = near_pairs(hashes, threshold, same)
    uf = UnionFind(len(hashes))
    for i, j, _ in pairs:
        uf.union(i, j)
    return uf.groups(), pairs
