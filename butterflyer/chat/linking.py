"""Species linking: find which guide species a message talks about.

Names come from every entry: the dataset label (with its typos), the common name,
other names and the scientific name. Matching works on normalised tokens, prefers
the longest name, accepts plurals and possessives ("monarchs", "monarch's"), joined
or split compounds ("swallow tail" / "swallowtail") and, for words that are not in the
guide's vocabulary, small typos ("monarck", "paintd lady").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from butterflyer.chat.schema import FieldGuide
from butterflyer.chat.text import STOPWORDS, clause_starts, edit_distance, stem, tokens

MAX_NAME_TOKENS = 5


@dataclass(frozen=True)
class Mention:
    """A species named in a message: token span ``[start, end)`` and whether it matched exactly."""

    label: str
    start: int
    end: int
    exact: bool


def _keys(toks: list[str]) -> set[str]:
    """Lookup keys of a name: spaced, joined and stemmed forms."""
    keys = {" ".join(toks), "".join(toks), " ".join(stem(t) for t in toks)}
    if "s" in toks[1:]:  # "Rajah Brooke's birdwing" typed without the possessive
        bare = [t for t in toks if t != "s"]
        keys |= {" ".join(bare), " ".join(stem(t) for t in bare)}
    return keys


# endings of English verb forms: a word ending so is a verb, not a slip of a name that does not
_INFLECTED = ("ed", "ing")


def _typo_budget(length: int) -> int:
    return 0 if length < 5 else 1 if length < 6 else 2 if length < 12 else 3


class SpeciesLinker:
    """Finds species mentions in text for one guide."""

    def __init__(self, guide: FieldGuide, vocabulary: set[str] | None = None,
                 heads: Collection[str] = (), words: Collection[str] = ()) -> None:
        # ordinary English words: one typed alone is that word, not a slip of a one-word name
        # ("my window frame" holds no "Flame", the Julia butterfly's other name)
        self._words = frozenset(words)
        # words that end other species' names ("mormon"): typed, they are no slip of a covered name
        # ("common mormon" is not the "common morpho")
        self._heads = frozenset(heads)
        self._exact: dict[str, str] = {}
        short: dict[str, str] = {}
        for label in sorted(guide.species):
            for name in guide.species[label].names():
                toks = tokens(name)
                if not toks or len(toks) > MAX_NAME_TOKENS:
                    continue
                for key in _keys(toks):
                    # the label's own spellings win over another entry's other_names
                    if key not in self._exact or name == label:
                        self._exact[key] = label
                # "garden tiger" for "Garden tiger moth", "atlas" for "Atlas moth" (not "milkweed" for
                # "Milkweed butterfly": butterfly names without their last word are often plain words)
                if len(toks) > 1 and toks[-1] == "moth":
                    rest = toks[:-1]
                    if len(rest) > 1 or len(rest[0]) >= 5:
                        for key in _keys(rest):
                            short.setdefault(key, label)
        for key, label in short.items():
            self._exact.setdefault(key, label)
        self._squashed = {k.replace(" ", ""): v for k, v in self._exact.items()}
        self.vocabulary = vocabulary or set()

    def find(self, text: str) -> list[Mention]:
        """Non-overlapping mentions, left to right, longest names first at each position; a name never
        spans a clause mark ("quick question - paris peacock" holds no "question mark")."""
        toks = tokens(text)
        breaks = sorted(clause_starts(text)) + [len(toks)]
        out: list[Mention] = []
        i = 0
        while i < len(toks):
            clause_end = next(b for b in breaks if b > i)
            hit = self._match_at(toks[:clause_end], i)
            if hit is None:
                i += 1
                continue
            out.append(hit)
            i = hit.end
        return out

    def labels(self, text: str) -> list[str]:
        """Distinct labels mentioned in ``text``, in order of first mention."""
        seen: list[str] = []
        for m in self.find(text):
            if m.label not in seen:
                seen.append(m.label)
        return seen

    def _match_at(self, toks: list[str], i: int) -> Mention | None:
        top = min(MAX_NAME_TOKENS, len(toks) - i)
        # a name may start with a common word ("AN 88"), but then it must be at least two words
        shortest = 2 if toks[i] in STOPWORDS else 1
        for n in range(top, shortest - 1, -1):
            cand = toks[i:i + n]
            if cand[-1] in STOPWORDS:
                continue
            for key in (" ".join(cand), " ".join(stem(t) for t in cand)):
                if key in self._exact:
                    return Mention(self._exact[key], i, i + n, exact=True)
            squashed = "".join(cand)
            # (words joined into a name are parts of it, never a function word: "at La Selva" holds
            # no "atlas")
            if squashed in self._squashed and (n == 1 or not set(cand) & STOPWORDS):
                return Mention(self._squashed[squashed], i, i + n, exact=True)
        if toks[i] in STOPWORDS:
            return None
        for n in range(top, 0, -1):
            cand = toks[i:i + n]
            # in a name of two or more words a shorter word may carry the typo ("luna moht")
            shortest_typo = 4 if n > 1 else 5
            if cand[-1] in STOPWORDS or not any(self._is_typo_candidate(t, shortest_typo) for t in cand):
                continue
            if any(t in self._heads and self._is_typo_candidate(t, 1) for t in cand):
                continue
            label = self._fuzzy("".join(cand), same_start=n == 1, word=n == 1 and cand[0] in self._words)
            if label is not None:
                return Mention(label, i, i + n, exact=False)
        for n in range(top, 1, -1):
            label = self._fuzzy_words(toks[i:i + n])
            if label is not None:
                return Mention(label, i, i + n, exact=False)
        return None

    def _fuzzy_words(self, cand: list[str]) -> str | None:
        """A name of two or more words with one word mistyped ("blu morpho", "morning cloak"): every other
        word exact, the slip one edit away and keeping its first letter (six letters at least when it is
        itself a word), and only one name that fits."""
        unknown = sum(t not in self.vocabulary for t in cand)
        if cand[-1] in STOPWORDS or unknown > 1:
            return None
        found = set()
        for key, label in self._exact.items():
            parts = key.split(" ")
            if len(parts) != len(cand):
                continue
            slips = [(a, b) for a, b in zip(cand, parts, strict=True) if a != b]
            # (every word a real word, "morning cloak": the slip must be a long word, not "red" for "rex",
            # or one of five letters beside a long exact word, "mourning clock")
            exact_letters = sum(len(a) for a, b in zip(cand, parts, strict=True) if a == b)
            shortest = 3 if unknown else 5 if exact_letters >= 6 else 6
            if len(slips) == 1 and len(slips[0][0]) >= shortest and slips[0][0][0] == slips[0][1][0] and (
                    edit_distance(slips[0][0], slips[0][1], 1) <= 1):
                found.add(label)
        return found.pop() if len(found) == 1 else None

    def _is_typo_candidate(self, token: str, shortest: int = 5) -> bool:
        return (len(token) >= shortest and token not in STOPWORDS and token not in self.vocabulary
                and stem(token) not in self.vocabulary and not token.isdigit())

    def _fuzzy(self, squashed: str, same_start: bool = False, word: bool = False) -> str | None:
        """The covered name within the typo budget of ``squashed``; ``same_start``: one word alone
        must keep its first letter ("moment" is no slip of "comet"), under eight letters and two slips
        away its first three ("monark" is the monarch, "sussex" is no "sunset"), and a verb's ending."""
        budget = _typo_budget(len(squashed))
        if budget == 0:
            return None
        best: tuple[int, str] | None = None
        for key, label in self._squashed.items():
            if same_start and key[:1] != squashed[:1]:
                continue
            d = edit_distance(squashed, key, budget)
            if same_start and d >= 2 and len(squashed) < 8 and key[:3] != squashed[:3]:
                continue  # a short word two slips from a name, changed near its start, is another word
            if same_start and squashed.endswith(_INFLECTED) and not key.endswith(_INFLECTED):
                continue  # "wondered" is a verb, not a slip of "wanderer"
            if word and not squashed.startswith(key):
                continue  # an English word is no slip of a name ("frame", "flame"), bar one letter on
                # the end ("monarchy caterpillars")
            if d <= budget and (best is None or d < best[0]):
                best = (d, label)
        return best[1] if best else None
