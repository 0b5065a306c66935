"""Description-to-species questions: "orange and black butterflies on milkweed, what are they?".

When a question describes a butterfly or moth (colours, pattern, plant, place, season)
instead of naming one, each species of the right kind is scored on how much of the
description its entry states: words found in its appearance passages (identification,
facts, life cycle), colour-and-part pairs found together ("red bands", "yellow border"),
places found in its range and habitat, plants in its food plants and months in its flight
period, each weighted by how rare the word is in the guide, plus the meaning-level
similarity of the question to its identification passage. The best one or two are
offered as candidates, never as a certain identification.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from butterflyer.chat.chunks import Chunk
from butterflyer.chat.index import ChatIndex
from butterflyer.chat.measure import ALIASES, REGIONS
from butterflyer.chat.text import STOPWORDS, normalize, stem, tokens

COLOURS = {"black", "white", "yellow", "orange", "red", "blue", "green", "brown", "pink", "purple", "grey",
           "gray", "silver", "silvery", "gold", "golden", "cream", "creamy", "metallic", "shiny",
           "iridescent", "rusty", "lime", "pale", "dark", "bright", "blackish", "whitish", "brownish",
           "greenish", "bluish", "yellowish", "reddish", "orangey", "velvety", "transparent", "clear"}
_LOOKS = COLOURS | {"striped", "stripes", "spots", "spotted", "spot", "bands", "banded", "eyespots", "eye",
                    "eyes", "tails", "tailed", "see-through", "furry", "fluffy", "hovering", "hovers", "leaf",
                    "rainbow", "88", "huge", "tiny", "rings", "veins", "comma", "zigzag", "colourful",
                    "colorful", "border", "stripe", "band"}
_KIND = re.compile(r"\b(butterfl(y|ies)|moths?|caterpillars?|swallowtails?|birdwings?|skippers?|hairstreaks?|"
                   r"fritillar(y|ies)|hawkmoths?|sphinx|longwings?|wings?)\b|"
                   r"\bones?\b(?= (?:that|which|with|from)\b)")  # "the big shiny blue one that turns brown"
_NOT = re.compile(r"^\s*(why|how|when|is|are|does|do|can|should)\b")
# words that say nothing about which species it is
_IGNORE = {"butterfly", "butterflies", "moth", "moths", "saw", "see", "seen", "found", "spotted", "think",
           "wing", "wings", "looks", "look", "like", "one", "little", "big", "large", "small", "really",
           "lot", "lots", "today", "yesterday", "flying", "flew", "sitting", "landed", "name", "called",
           "identify"}
# the caterpillar's looks (life cycle) count only when the description is of a caterpillar
SECTION_GROUPS = {"look": ("identification", "facts", "overview"), "young": ("life_cycle",),
                  "place": ("distribution", "habitat"), "plant": ("larval_host_plants", "adult_food"),
                  "time": ("flight_period",)}
# a range given for the wider area counts for a place inside it ("across Europe" for "in Britain")
WIDER = {"britain": ("europe", "ireland")}
PAIR_WEIGHT = 1.5      # a colour found next to the part it colours counts 1.5 times more
DENSE_WEIGHT = 0.7     # meaning-level similarity of the question to the identification passage
SECOND_RATIO = 0.94    # a second candidate only when it scores nearly as well as the first
SECOND_SHARE_GAP = 0.0
MIN_SHARE = 0.25       # at least a quarter of the description (by weight) must be found in the entry
PLANT_WEIGHT = 0.5     # a plant it was seen on that is the entry's food plant is strong evidence


def is_description(text: str) -> bool:
    """A question that describes an unnamed butterfly or moth."""
    norm = normalize(text)
    words = set(re.findall(r"[a-z0-9-]+", norm))
    return bool(_KIND.search(norm)) and bool(words & _LOOKS) and not _NOT.search(norm)


# words that, qualifying a plain "moth" or "caterpillars", say how one looks or how big it is
_SIZE_WORDS = {"big", "small", "little", "tiny", "huge", "giant", "large", "fat", "long", "short"}
PLAIN_HEADS = {"butterfly", "butterflies", "moth", "moths", "caterpillar", "caterpillars"}


def looks_qualified(phrase: list[str]) -> bool:
    """A plain butterfly, moth or caterpillar described by its looks ("fuzzy little moth", "spiky black
    caterpillars"): a colour, size or pattern word among the qualifiers, and every other qualifier an
    adjective of texture or look ("fuzzy", "spiky": ending in -y), not a name word ("cecropia")."""
    if len(phrase) < 2 or phrase[-1] not in PLAIN_HEADS:
        return False
    quals = phrase[:-1]
    looks = [w for w in quals if w in _LOOKS or w in _SIZE_WORDS]
    rest = [w for w in quals if w not in looks]
    return bool(looks) and all(w.endswith("y") and len(w) >= 4 for w in rest)


def tells_looks(text: str) -> bool:
    """Whether ``text`` says what something looks like (a colour, pattern or shape word)."""
    return bool(set(re.findall(r"[a-z0-9-]+", normalize(text))) & _LOOKS)


def _prefix(word: str) -> str:
    return stem(word)[:5]


@lru_cache(maxsize=4)
def _guide_prefixes(index: ChatIndex) -> frozenset[str]:
    """5-letter prefixes of every term the guide uses."""
    return frozenset(k[:5] for k in index.bm25.idf)


def _base(word: str) -> str:
    """A colour word without "-ish" ("reddish" -> "red", "greenish" -> "green")."""
    if word.endswith("ish") and len(word) > 5:
        base = word[:-3]
        return base[:-1] if len(base) > 3 and base[-1] == base[-2] else base
    return word


def _found(word: str, group: set[str]) -> bool:
    """Whether a description word is in a group of guide word prefixes; a short word also matches
    the compounds it begins ("eye" -> "eyespot")."""
    key = _prefix(_base(word))
    if key in group:
        return True
    return 3 <= len(key) < 5 and any(g.startswith(key) for g in group)


@dataclass
class _Profile:
    """One species' words by group, and its sentences as token lists (for colour-part pairs)."""

    words: dict[str, set[str]] = field(default_factory=dict)
    sentences: list[list[str]] = field(default_factory=list)
    place: str = ""


def _profiles(index: ChatIndex) -> dict[str, _Profile]:
    cached = getattr(index, "_describe_profiles", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: dict[str, _Profile] = {}
    for c in index.chunks:
        if c.entry_kind != "species":
            continue
        prof = out.setdefault(c.entry, _Profile(words={g: set() for g in SECTION_GROUPS}))
        for group, sections in SECTION_GROUPS.items():
            if c.section in sections:
                for s in c.sentences:
                    toks = tokens(s)
                    prof.words[group] |= {_prefix(t) for t in toks}
                    if group == "look":
                        prof.sentences.append([_prefix(t) for t in toks])
                    if group == "place":
                        prof.place += " " + normalize(s)
    index._describe_profiles = out  # type: ignore[attr-defined]  # built once per index
    return out


def _pairs(toks: list[str]) -> list[tuple[str, str]]:
    """(colour, part) pairs of a description: "red bands", "blue hindwings", "black and yellow stripes"."""
    out = []
    for i, w in enumerate(toks):
        if w not in COLOURS:
            continue
        for nxt in toks[i + 1:i + 4]:
            if nxt in COLOURS or nxt in ("and", "wing", "wings"):
                continue  # "black and yellow stripes", "orange wing tips"
            if nxt not in _IGNORE and nxt not in STOPWORDS:
                out.append((_prefix(w), _prefix(nxt)))
            break
    return out


def _has_pair(sentences: list[list[str]], colour: str, part: str) -> bool:
    """Whether a sentence puts the colour a few words before the part ("red-orange band")."""
    for toks in sentences:
        for i, t in enumerate(toks):
            if t == part and colour in toks[max(0, i - 4):i]:
                return True
    return False


def candidates(index: ChatIndex, kinds: dict[str, str], vec: np.ndarray, lexical: str, text: str,
               k: int = 2, exclude: Sequence[str] = ()) -> list[Chunk]:
    """Identification chunks of the ``k`` likeliest species (moths only if it says moth, etc.);
    ``exclude``: species the description compares it with ("like a monarch but smaller")."""
    del lexical  # the description's own words are read from ``text``
    norm = normalize(text)
    want = "moth" if re.search(r"\bmoths?\b", norm) else "butterfly" if "butterfl" in norm else None
    idf = index.bm25.idf
    # words the guide never uses, even in another form ("ngl", "screen"), can neither fit nor rule out an
    # entry ("stripy" stays: the guide says "striped")
    stems5 = _guide_prefixes(index)
    words = [w for w in tokens(text) if w not in STOPWORDS and w not in _IGNORE and _prefix(w) in stems5]
    if not words:
        return []
    top_idf = max(idf.values(), default=1.0)

    def weight(w: str) -> float:
        return idf.get(stem(w), top_idf)

    young = bool(re.search(r"\b(caterpillars?|larva|larvae|grubs?|worms?|cocoons?|chrysalis)\b", norm))
    profiles = _profiles(index)
    dense = index.dense(vec)
    ident = {c.entry: i for i, c in enumerate(index.chunks) if c.section == "identification"}
    pairs = _pairs(tokens(text))
    total = sum(weight(w) for w in words) + PAIR_WEIGHT * sum(weight(p) for _, p in pairs)
    scores: dict[str, float] = {}
    shares: dict[str, float] = {}
    # "in costa rica": a range text saying "Central America" counts for the place's words
    phrase = next((p for p in sorted([*REGIONS, *ALIASES], key=len, reverse=True)
                   if re.search(rf"\b{re.escape(p)}\b", norm)), None)
    region = ALIASES.get(phrase, phrase) if phrase else None
    region_words = set(phrase.split()) if phrase else set()
    for label, prof in profiles.items():
        if want is not None and kinds.get(label) != want or label not in ident or label in exclude:
            continue
        groups = [g for name, g in prof.words.items() if name != "young" or young]
        places = REGIONS[region] + WIDER.get(region, ()) if region else ()
        in_region = any(r in prof.place for r in places)
        found = sum(weight(w) for w in words
                    if any(_found(w, g) for g in groups) or (in_region and w in region_words))
        found += PAIR_WEIGHT * sum(weight(p) for c, p in pairs if _has_pair(prof.sentences, c, p))
        shares[label] = found / total
        on_plant = sum(weight(w) for w in words if w not in _LOOKS and _found(w, prof.words["plant"]))
        scores[label] = (shares[label] + DENSE_WEIGHT * float(dense[ident[label]])
                         + PLANT_WEIGHT * on_plant / total)
    ranked = sorted(scores, key=lambda e: -scores[e])[:k]
    ranked = [e for e in ranked if shares[e] >= MIN_SHARE]
    # a second candidate only when it is nearly as likely and states as much of the description
    if len(ranked) == 2 and (scores[ranked[1]] < SECOND_RATIO * scores[ranked[0]]
                             or shares[ranked[1]] < shares[ranked[0]] - SECOND_SHARE_GAP):
        ranked = ranked[:1]
    return [index.chunks[ident[e]] for e in ranked]
