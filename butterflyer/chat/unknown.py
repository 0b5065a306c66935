"""Species the guide does not cover: spot them in a question and word the refusal.

Two signals. (1) A checklist of well-known butterflies and moths the guide lacks
(``guide/other_species.txt``): a listed name found in the message wins over any guide
name inside it, so "Queen of Spain fritillary" is not the queen and "western tiger
swallowtail" is not the eastern tiger swallowtail. (2) A guide name preceded by a word
that is not part of it but makes a longer species name ("giant swallowtail" inside no
guide name, "small tortoiseshell") is caught by the checklist too. The reply names what
was asked about and offers the closest covered species only as a marked suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from butterflyer.chat.describe import COLOURS
from butterflyer.chat.embed import english_words
from butterflyer.chat.intent import DOMAIN, OTHER_ANIMALS
from butterflyer.chat.schema import FieldGuide
from butterflyer.chat.text import (
    STOPWORDS,
    clause_starts,
    edit_distance,
    hyphen_suffixes,
    normalize,
    stem,
    tokens,
)

CHECKLIST = Path(__file__).resolve().parent / "guide" / "other_species.txt"
# single checklist words that are also ordinary words count only when a group noun follows
_NEEDS_NOUN = {"brimstone", "grayling", "gatekeeper", "ringlet", "harvester", "sachem", "glasswing"}
_EVERYDAY = {"gatekeeper", "harvester"}
# articles of other languages (of three letters or more, as a modifier must be), never a word of a name
# ("een groot avondrood", "ein Kleiner Fuchs")
_FOREIGN_ARTICLES = {"een", "ein", "eine", "einen", "einem", "une", "una", "uno", "gli", "los", "las", "les",
                     "der", "das", "het", "ett", "uma"}
# articles a local name may begin with ("le citron", "la vanessa")
_NAME_ARTICLES = {"the", "le", "la", "les", "el", "los", "las", "il", "lo", "der", "die", "das", "de", "het"}
# Plants, foods and animals moths are named for ("leek moth", "sloth moth"): alone, the word is the thing
_NAMED_FOR = {"acorn", "alder", "alfalfa", "bumblebee", "carob", "cucumber", "grapevine", "guineafowl",
              "honeycomb", "leek", "litchi", "lychee", "magpie", "mullein", "mung", "nettle", "oleander",
              "pomegranate", "raisin", "rattlebox", "sloth", "sycamore", "taro", "turnip", "yucca",
              "kowhai", "kumara", "lychnis", "mistletoe", "nutmeg", "primrose", "senecio", "spinach",
              # and everyday things ("the streamer", "a chevron")
              "chevron", "coronet", "festoon", "spangle", "streamer", "vestal"}
# the group nouns a name said without them ends with ("cecropia moth"; a caterpillar's name is mostly its
# plant's: "oleander caterpillar")
_GROUPS = {"butterfly", "butterflies", "moth", "moths"}
_FOLLOW = {"butterfly", "butterflies", "moth", "moths", "caterpillar", "caterpillars"}
# words joined to a name by a hyphen that make it a likeness, not the species ("a black swallowtail-shaped
# butterfly")
LIKENESS = {"shaped", "sized", "looking", "like", "lookalike", "type", "style", "esque"}
# nouns a one-word name can describe ("the comma mark")
_MARK_NOUNS = {"mark", "marks", "marking", "markings", "shape", "shaped", "sign", "symbol", "spot"}
# marks a colour describes ("black veins, white dots")
_PATTERNS = {"dots", "dot", "spots", "spot", "stripes", "stripe", "bands", "band", "patches", "patch",
             "edges", "edge", "border", "borders", "lines", "line", "streaks", "marks", "markings",
             "veins", "rings"}
# words that make a message about butterflies ("the glasswing - how come its wings are clear?")
_ABOUT = _FOLLOW | {"wing", "wings"}


@dataclass(frozen=True)
class Unknown:
    """A species name in the message that the guide has no entry for."""

    name: str
    start: int
    end: int


@lru_cache(maxsize=4)
def checklist(path: Path = CHECKLIST) -> tuple[tuple[str, ...], ...]:
    """Checklist names as token tuples, longest first."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            toks = tuple(tokens(line))
            names.append(toks)
            if "s" in toks[1:]:  # typed without the apostrophe: "deaths head hawkmoth"
                names.append(tuple(re.sub(r" s\b", "s", " ".join(toks)).split()))
            if len(toks) >= 3 and toks[-1] in ("moth", "butterfly"):
                names.append((*toks[:-1], "caterpillar"))  # "oak processionary caterpillars"
            split = _split_compound(toks[-1]) if len(toks) >= 2 else None
            if split is not None:
                names.append((*toks[:-1], *split))  # "small tortoise shell", "zebra swallow tail"
    return tuple(sorted(set(names), key=lambda t: (-len(t), t)))  # (ties by name: the same in every process)


def _split_compound(word: str) -> tuple[str, str] | None:
    """A group word typed as the two words it is made of ("tortoiseshell" as "tortoise shell"): split
    where both halves are English words of four letters or more, or else where the second is and the
    first has six letters or more (the encoder's vocabulary lacks some first halves: "tortoise")."""
    everyday = english_words()
    cuts = range(4, len(word) - 3)
    k = next((k for k in cuts if word[:k] in everyday and word[k:] in everyday),
             next((k for k in cuts if k >= 6 and word[k:] in everyday), None))
    return (word[:k], word[k:]) if k is not None else None


def _forms(tok: str) -> set[str]:
    return {tok, stem(tok), tok.rstrip("s")}


@lru_cache(maxsize=1)
def _heads() -> frozenset[str]:
    """"cecropia" of "cecropia moth": one-word names people also use without the group noun (never an
    everyday word: "the winter" is no winter moth, "the wall" no wall butterfly)."""
    everyday = english_words()
    return frozenset(name[0] for name in checklist()
                     if len(name) == 2 and name[1] in _GROUPS and len(name[0]) >= 4
                     and name[0] not in everyday and name[0] not in _NAMED_FOR)


def _a_look(name: tuple[str, ...], toks: list[str], i: int, norm: str) -> bool:
    """Whether a name of colours is typed as a look: joined by a hyphen ("pale silvery-blue
    butterflies" is no silvery blue), or, opening with a colour, followed by a pattern ("black veins
    white dots" is no black-veined white)."""
    if name[0] not in COLOURS:
        return False
    if all(w in COLOURS for w in name) and re.search(r"-".join(map(re.escape, toks[i:i + len(name)])), norm):
        return True
    return i + len(name) < len(toks) and toks[i + len(name)] in _PATTERNS


_VOWELS = frozenset("aeiouy")


def _slip(word: str, typed: str) -> bool:
    """Whether ``typed`` is a slip of a name word of five letters or more, keeping its first letter: one
    letter off ("empror" for "emperor", "pansey" for "pansy"; two in a word of nine letters or more), or the
    same consonants in the same order with vowels misheard ("emporer" for "emperor")."""
    if len(word) < 5 or len(typed) < 5 or typed[0] != word[0]:
        return False
    limit = 2 if len(word) >= 9 else 1  # a long word may lose two letters ("tortoishell")
    return edit_distance(word, typed, limit) <= limit or _vowels_misheard(word, typed)


def _vowels_misheard(word: str, typed: str) -> bool:
    """Whether ``typed`` spells ``word`` by ear: as long, the same consonants in the same order, at most
    two edits apart ("emporer" for "emperor", "swallowtale" for "swallowtail")."""
    if len(word) != len(typed) or word == typed:
        return False
    consonants = [c for c in word if c not in _VOWELS]
    return consonants == [c for c in typed if c not in _VOWELS] and edit_distance(word, typed, 2) <= 2


def _matches(name: tuple[str, ...], toks: list[str], stems: list[set[str]], i: int) -> bool:
    """Whether checklist ``name`` is typed at token ``i``: every word as written (any inflection), or, in
    a name of two words or more, all but one long word, which is a slip ("purple empror", "gulf
    fritilary"), or the last word short of its last letter ("holly blu")."""
    slips = 0
    for k, word in enumerate(name):
        if word in stems[i + k] or stem(word) in stems[i + k]:
            continue
        slips += 1
        # (the last word may also be cut short by a letter: "holly blu")
        cut = k == len(name) - 1 and len(word) >= 4 and toks[i + k] == word[:-1]
        if slips > 1 or len(name) < 2 or not (cut or _slip(word, toks[i + k])):
            return False
    return True


def _slipped(name: tuple[str, ...], stems: list[set[str]], i: int) -> bool:
    """Whether checklist ``name``, matched at token ``i``, has a word typed with a slip."""
    return any(word not in stems[i + k] and stem(word) not in stems[i + k] for k, word in enumerate(name))


@lru_cache(maxsize=1)
def _listed() -> frozenset[tuple[str, ...]]:
    """The checklist names, for membership tests."""
    return frozenset(checklist())


@lru_cache(maxsize=1)
def _all_names() -> tuple[tuple[str, ...], ...]:
    """Checklist names, then the one-word heads that are not checklist names themselves, in the order
    they are tried: a name numbered ``len(checklist())`` or more is a bare head."""
    return (*checklist(), *((h,) for h in sorted(_heads()) if (h,) not in _listed()))


@lru_cache(maxsize=1)
def checklist_index() -> dict[str, tuple[tuple[int, int], ...]]:
    """``(name number, word position)`` of every name word, by the word and by its stem."""
    index: dict[str, list[tuple[int, int]]] = {}
    for n, name in enumerate(_all_names()):
        for k, word in enumerate(name):
            for key in {word, stem(word)}:
                index.setdefault(key, []).append((n, k))
    return {key: tuple(hits) for key, hits in index.items()}


def _candidates(toks: list[str], stems: list[set[str]]) -> list[tuple[tuple[str, ...], int, bool]]:
    """``(name, start, bare head)`` worth checking, in the order the checklist is tried (name, then start).
    A name can match only where one of its words is typed as written (a one-word name has no slip, and a
    longer one at most one), so the words typed look up their names instead of every name being tried."""
    names, index = _all_names(), checklist_index()
    found: set[tuple[int, int]] = set()
    for j, forms in enumerate(stems):
        for form in forms:
            for n, k in index.get(form, ()):
                i = j - k
                if 0 <= i <= len(toks) - len(names[n]):
                    found.add((n, i))
    listed = len(checklist())
    return [(names[n], i, n >= listed) for n, i in sorted(found)]


def find_unknown(message: str, guide_spans: list[tuple[int, int]], refusing: bool = False,
                 slipped_spans: Sequence[tuple[int, int]] = (), other_meant: bool = False) -> Unknown | None:
    """The first checklist name in ``message`` that no equal-or-longer guide name covers.

    An ordinary word on the checklist ("brimstone"), or a name said without its group noun
    ("the cecropia"), counts only before a group noun, or after "the" in a message that is
    clearly about butterflies (a group noun or a covered species in it). ``refusing``: the
    message is being refused as off topic anyway, so "the brimstone" after "the" is taken as the
    name it may be, and the refusal can say which species the guide lacks. ``slipped_spans``: covered
    names typed with slips; a checklist name typed with a slip inside one is that covered name ("afican
    giant swallowtale" holds no "giant swallowtail"). ``other_meant``: the message says a species other
    than its page's is meant ("not this one but the brimstone"), which makes it about butterflies."""
    toks = tokens(message)
    norm = normalize(message)
    stems = [_forms(t) for t in toks]
    breaks = clause_starts(message)  # "long tails, blue & orange eyespot" holds no "long-tailed blue"
    likeness = hyphen_suffixes(message, LIKENESS)
    capital = {normalize(m.group(0)) for m in re.finditer(r"\b[A-Z][a-z]+", message)}
    about_butterflies = refusing or other_meant or bool(_ABOUT & set(toks)) or bool(guide_spans)
    # a message about butterflies that names no covered species ("first brimstone of the year! what does it
    # lay its eggs on?"); "fire and brimstone" is none
    on_domain = not guide_spans and bool(DOMAIN & {stem(t) for t in toks})
    for name, i, bare_head in _candidates(toks, stems):
        n = len(name)
        if not _matches(name, toks, stems, i) or _a_look(name, toks, i, norm):
            continue
        if any(s <= i and i + n <= e for s, e in slipped_spans) and _slipped(name, stems, i):
            continue
        if any(i + k in breaks for k in range(1, n)) or i + n in likeness:
            continue
        if i + n < len(toks) and toks[i + n] in OTHER_ANIMALS:
            continue  # "a small blue bird": a look of another animal, not the small blue
        if i > 0 and toks[i - 1] in ("its", "their"):
            continue  # "the garden tiger flashes its red underwings": a part of it, not the red underwing
        if guide_spans and toks[i + n - 1] == "underwings":
            continue  # "why has the garden tiger got bright orange underwings": its wings, not the moths
        needs_context = n == 1 and (name[0] in _NEEDS_NOUN or bare_head)
        before_noun = i + 1 < len(toks) and toks[i + 1] in _FOLLOW
        # ("the first butterfly of the year was a brimstone": after "a" too, when no covered species is
        # named beside it; "a gatekeeper" is as likely a person, and "a lime" a fruit)
        after_article = i > 0 and about_butterflies and (
            toks[i - 1] == "the" or toks[i - 1] in ("a", "an") and not guide_spans
            and name[0] in _NEEDS_NOUN - _EVERYDAY)
        # (refused anyway: "first brimstone of the year!!" names the brimstone; "gatekeeper" and
        # "harvester" are everyday words too)
        # (written with a capital, "Glasswing (Greta oto)", it is a name too, and so it is in a message
        # about butterflies that names no covered species)
        loose = (refusing or name[0] in capital or on_domain) and name[0] in _NEEDS_NOUN - _EVERYDAY
        if needs_context and not (before_noun or after_article or loose):
            continue
        if needs_context and i + 1 < len(toks) and toks[i + 1] in _MARK_NOUNS:
            continue  # "where is the comma mark on it": the mark its name is for, not the comma
        covered = any(s <= i and i + n <= e and e - s >= n for s, e in guide_spans)
        # "red postman butterflies" is not the "postman butterfly": a guide name overlaps the match
        # and the rest of it is only a group word
        covered = covered or any(s <= i < e < i + n and set(toks[e:i + n]) <= _FOLLOW
                                 for s, e in guide_spans)
        if not covered:
            found = toks[i:i + n] + ([toks[i + 1]] if n == 1 and before_noun else [])
            if _foreign_modifier(toks, i, guide_spans, capital, norm):
                return Unknown(" ".join([toks[i - 1], *found]), i - 1, i + len(found))  # "muga silkworm"
            return Unknown(" ".join(found), i, i + len(found))
    return _spaced_differently(toks, guide_spans, breaks)


@lru_cache(maxsize=1)
def _joined_names() -> frozenset[str]:
    """Checklist names with their letters run together ("jinbandie" for "jin ban die"), where that is no
    English word ("silver y" run together is "silvery") and has six letters or more."""
    everyday = english_words()
    return frozenset(key for name in checklist() if len(key := "".join(name)) >= 6 and key not in everyday)


def _spaced_differently(toks: list[str], guide_spans: list[tuple[int, int]], breaks: set[int]
                        ) -> Unknown | None:
    """A checklist name typed with its words run together or split apart, as romanised names often are
    ("jia can" for the listed "jiacan", "jinban huifeng die" for "jinban huifengdie"); a run of up to five
    words that lies inside no guide name and crosses no clause mark."""
    joined, listed = _joined_names(), _listed()
    for i in range(len(toks)):
        for n in range(1, min(5, len(toks) - i) + 1):
            if any(i + k in breaks for k in range(1, n)):
                break
            if "".join(toks[i:i + n]) not in joined or tuple(toks[i:i + n]) in listed:
                continue  # (a name typed as listed was weighed, and maybe turned down, by find_unknown)
            if any(s < i + n and i < e for s, e in guide_spans):
                continue
            return Unknown(" ".join(toks[i:i + n]), i, i + n)
    return None


def _foreign_modifier(toks: list[str], i: int, guide_spans: list[tuple[int, int]], capital: set[str],
                      norm: str) -> bool:
    """Whether the word before a checklist name at ``i`` is a non-English word that makes a longer name
    ("muga silkworm", "eri silkworm"): lower case (a capital is more often a place), no stopword, in
    no covered name. English here is the encoder's vocabulary only: the large offline dictionary holds
    "muga" (the silk) and would hide the name."""
    if i == 0:
        return False
    word = toks[i - 1]
    return (word.isalpha() and len(word) >= 3 and word not in english_words() and word not in STOPWORDS
            and word not in _FOREIGN_ARTICLES and word not in capital
            and not any(s <= i - 1 < e for s, e in guide_spans)
            # ("emerald-patched cattleheart (Parides sesostris)": a bracket parts them)
            and re.search(rf"\b{re.escape(word)}\s+{re.escape(toks[i])}\b", norm) is not None)


def more_unknown(message: str, guide_spans: list[tuple[int, int]], found: Unknown,
                 refusing: bool = False) -> list[Unknown]:
    """Checklist names in ``message`` besides ``found`` and apart from it, in the order they are typed
    ("how do I tell a silver-washed fritillary from a dark green fritillary" names two)."""
    spans = [*guide_spans, (found.start, found.end)]
    out: list[Unknown] = []
    while (other := find_unknown(message, spans, refusing)) is not None:
        out.append(other)
        spans.append((other.start, other.end))
    return sorted(out, key=lambda u: u.start)


_GENERIC = {"butterfly", "butterflies", "moth", "moths", "caterpillar", "caterpillars", "the", "of", "s"}
# words many names start with: shared alone, they make no covered species a fitting suggestion
_MODIFIERS = {"common", "lesser", "greater", "great", "small", "large", "giant", "little", "northern",
              "southern", "eastern", "western", "false", "scarce", "royal"}


def closest_covered(guide: FieldGuide, name: str) -> str | None:
    """The covered species sharing most words with the asked name (its group word counts double, and
    must be shared)."""
    typed = tokens(name)
    if len(typed) >= 2 and _split_compound(typed[-2] + typed[-1]) == (typed[-2], typed[-1]):
        typed = [*typed[:-2], typed[-2] + typed[-1]]  # "tortoise shell" is the tortoiseshell
    words = [stem(w) for w in typed if w not in _GENERIC and w not in _MODIFIERS]
    if not words:
        return None
    best: tuple[float, str] | None = None
    for label, entry in sorted(guide.species.items()):
        have = {stem(t) for n in entry.names() for t in tokens(n)}
        score = sum(1 for w in words if w in have) + (words[-1] in have)
        # (the group word must be shared: "pine processionary" shares only a plant with the pine elfin)
        if words[-1] in have and (best is None or score > best[0]):
            best = (score, label)
    return best[1] if best else None


def as_typed(message: str, name: str) -> str:
    """``name`` (normalised tokens) as the visitor wrote it in ``message``: apostrophes, hyphens and
    accents kept, in lower case ("sâu keo mùa thu", "rusałka pokrzywnik"), and slips kept where the name
    was read from a repaired spelling ("purpel emperor")."""
    folded, origin = [], []
    for k, char in enumerate(message):
        for out in normalize(char):
            folded.append(out)
            origin.append(k)
    pattern = r"[^a-z0-9]+".join(re.escape(t) for t in name.split())
    found = re.search(pattern, "".join(folded))
    if found:
        return message[origin[found.start()]:origin[found.end() - 1] + 1].lower()
    # the name was read from a repaired spelling ("purpel" read as "purple"): the same words as typed
    words = list(re.finditer(r"[a-z0-9]+", "".join(folded)))
    want = name.split()
    for i in range(len(words) - len(want) + 1):
        run = words[i:i + len(want)]
        if all(w.group(0) == t or (w.group(0)[0] == t[0] and edit_distance(w.group(0), t, 2) <= 2)
               for w, t in zip(run, want, strict=True)):
            return message[origin[run[0].start()]:origin[run[-1].end() - 1] + 1].lower()
    return name


def not_covered_text(guide: FieldGuide, name: str, *others: str) -> str:
    """The refusal: what was asked about (every name the guide lacks), and a clearly marked suggestion."""
    names = list(dict.fromkeys([name, *others]))  # (typed twice, named once)
    name, others = names[0], tuple(names[1:])
    # ("le citron" takes no second article)
    said = " or ".join(n if n.split()[0] in _NAME_ARTICLES else f"the {n}" for n in names)
    text = (f"My field guide has no entry for {said}, so I can't tell you about "
            f"{'them' if others else 'it'} (the guide covers 100 other species).")
    near = next((n for n in map(lambda x: closest_covered(guide, x), [name, *others]) if n), None)
    if near is not None:
        text += (f" Suggestion only, a different species: the guide does cover the "
                 f"{guide.species[near].common_name}.")
    return text
