"""Superlatives read from the guide's sentences: the farthest migrant and the most widespread species."""

from __future__ import annotations

import pytest

from butterflyer.chat.chunks import Chunk
from butterflyer.chat.superlatives import asks_farthest_migrant, distance_km, farthest_migrant


@pytest.mark.parametrize(("question", "asks"), [
    ("which butterfly makes the longest migration", True),
    ("which butterfly on your list migrates the furthest", True),
    ("what flies the farthest of all your moths", True),
    ("how far does the monarch migrate", False),
    ("why do monarchs migrate", False),
])
def test_asks_farthest_migrant(question: str, asks: bool) -> None:
    assert asks_farthest_migrant(question) is asks


def test_distance_is_the_largest_kilometre_figure_of_a_migration_sentence() -> None:
    assert distance_km("Monarchs migrate up to about 4,500 to 4,800 kilometres each autumn.") == 4800
    assert distance_km("A round trip of more than 12,000 km between Africa and Europe.") == 12000
    assert distance_km("Its wingspan is 120 mm and it lives 5 km from the coast.") is None  # no migration


def _chunk(entry: str, sentences: tuple[str, ...]) -> Chunk:
    return Chunk(id=f"{entry}::facts", entry=entry, entry_kind="species", entry_title=entry.title(),
                 section="facts", section_title="Facts", sentences=sentences)


def test_farthest_migrant_among_the_allowed_entries() -> None:
    chunks = [_chunk("A", ("A migrates about 2,000 km south.",)),
              _chunk("B", ("B is blue.", "B makes a migration of 4,500 kilometres.")),
              _chunk("C", ("C migrates 9,000 km.",))]
    chunk, j, km = farthest_migrant(chunks, {"A", "B"})
    assert (chunk.entry, j, km) == ("B", 1, 4500)
    assert farthest_migrant(chunks, set()) is None


def test_most_widespread_reads_the_guides_own_claim_worldwide_only() -> None:
    from butterflyer.chat.superlatives import asks_most_widespread, most_widespread

    assert asks_most_widespread("which butterfly is found in the most places in the world")
    assert not asks_most_widespread("where is the painted lady found")
    chunks = [_chunk("A", ("A is one of the most widespread hairstreaks in North America.",)),
              _chunk("B", ("B is blue.", "B is one of the most widespread butterflies in the world.")),
              _chunk("C", ("C is one of the world's most widespread butterflies.",))]
    assert [(c.entry, j) for c, j in most_widespread(chunks, {"A", "B", "C"})] == [("B", 1), ("C", 0)]
    assert most_widespread(chunks, {"A"}) == []
