"""Things named like butterflies that are none: find them in a message.

``guide/other_things.txt`` lists birds, fish, machines, brands, people and works whose names hold a word
of a covered species' name or a butterfly word ("black-naped monarch", "Apollo 11", "emperor penguin",
"butterfly valve"). A covered name inside one of them is not that species, and a message about one of
them with no butterfly or moth left in it is off topic.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from butterflyer.chat.text import tokens

OTHER_THINGS = Path(__file__).resolve().parent / "guide" / "other_things.txt"


@lru_cache(maxsize=4)
def other_things(path: Path = OTHER_THINGS) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Listed names as token tuples, by first word, longest first."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name = tuple(tokens(line))
            if name:
                by_first.setdefault(name[0], []).append(name)
    return {first: tuple(sorted(set(names), key=lambda n: (-len(n), n))) for first, names in by_first.items()}


def _same(word: str, typed: str) -> bool:
    """A listed word as typed, or its plural ("black-naped monarchs", "emperor penguins", "moth flies"),
    never another inflection ("moth flying" is no moth fly)."""
    return typed == word or typed in (f"{word}s", f"{word}es") or (
        word.endswith("y") and typed == f"{word[:-1]}ies")


def find_other_things(words: list[str]) -> list[tuple[int, int]]:
    """Token spans of listed things in a message's tokens, left to right, the longest at each start."""
    listed = other_things()
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        match = next((name for name in listed.get(words[i], ())
                      if i + len(name) <= len(words)
                      and all(_same(w, words[i + k]) for k, w in enumerate(name))), None)
        if match is None:
            i += 1
            continue
        spans.append((i, i + len(match)))
        i += len(match)
    return spans
