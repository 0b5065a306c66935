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
from butterflyer.chat.measure import REGIONS
from butterflyer.chat.places import PLACE_REGIONS
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
                   r"fritillar(y|ies)|hawkmoths?|sphinx|longwings?|(hind|fore)?wings?)\b|"
                   r"\bones?\b(?= (?:that|which|with|from)\b)")  # "the big shiny blue one that turns brown"
_NOT = re.compile(r"^\s*(why|how|when|is|are|does|do|can|should)\b")
# words that say nothing about which species it is
_IGNORE = {"butterfly", "butterflies", "moth", "moths", "saw", "see", "seen", "found", "spotted", "think",
           "wing", "wings", "looks", "look", "like", "one", "little", "big", "large", "small", "really",
           "lot", "lots", "today", "yesterday", "flying", "flew", "sitting", "landed", "name", "called",
           "identify", "never", "ever", "before"}
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
# Colours are what people see first: a species whose identification passage lacks a colour the
# description states is less likely, whatever else it shares ("pink and yellow moth at my porch light"
# is no luna moth). The score is scaled by HUE_FLOOR + (1 - HUE_FLOOR) x the share of stated hues found.
HUE_FLOOR = 0.6
# the hue a colour word names ("crimson" is red, "jade" green); words not listed name their own hue
HUES = {"black": "black", "white": "white", "yellow": "yellow", "orange": "orange", "red": "red",
        "blue": "blue", "green": "green", "brown": "brown", "pink": "pink", "purple": "purple",
        "grey": "grey", "gray": "grey", "silver": "silver", "silvery": "silver", "gold": "gold",
        "golden": "gold", "cream": "cream", "creamy": "cream", "crimson": "red", "scarlet": "red",
        "lime": "green", "emerald": "green", "jade": "green", "violet": "purple", "sooty": "black",
        "tawny": "orange", "rosy": "pink", "turquoise": "blue", "sky": "blue", "maroon": "brown",
        "chestnut": "brown"}
# A size word the wingspan contradicts ("tiny" for a 90 mm butterfly) scales the score by SIZE_MISS.
SMALL_WORDS = {"tiny", "small", "little", "smaller", "wee"}
BIG_WORDS = {"huge", "giant", "big", "large", "enormous", "massive", "bigger"}
SMALL_MID_MM = 60   # a species whose middle wingspan is this wide or wider is never "tiny"
BIG_MID_MM = 50     # nor one whose middle wingspan is this narrow or narrower "huge"
SIZE_MISS = 0.75
# a species whose range and habitat never mention the region of a place the description names
REGION_MISS = 0.8
# "front wing", "back wings" said as the guide says them, "checkered" spelt as the guide spells it, and
# comparisons left out
_PLAIN_FORMS = [(re.compile(r"\bcheckered\b"), "chequered"), (re.compile(r"\bteeth\b"), "tooth"),
               (re.compile(r"\b(smaller|bigger|larger|darker|paler|brighter) than (an? |the )?[a-z-]+"), " "),
               (re.compile(r"\b(front|fore|upper) wings?\b"), "forewings"),
               (re.compile(r"\b(back|hind|rear|lower|bottom) wings?\b"), "hindwings")]


# every region and place name, longest first, as one pattern (built once: it runs for each description)
_PLACE = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted([*REGIONS, *PLACE_REGIONS], key=len,
                                                                     reverse=True)) + r")\b")


# "how do I tell a moth from a butterfly", "is it a moth or a butterfly", "... moths are brown and
# butterflies bright ... how does one tell them apart": the question the butterflies-and-moths page answers
MOTH_OR_BUTTERFLY = "how do I tell a moth from a butterfly"
_MOTH_OR_BUTTERFLY = re.compile(
    r"\b(tell|telling|distinguish|difference|differences|differ|know (if|whether)|is (it|this|that))\b"
    r"[^?.!]{0,50}"
    r"\b(moths?\b[^?.!]{0,12}\b(or|from|and|vs|versus)\b( an?| the)? butterfl(y|ies)|"
    r"butterfl(y|ies)\b[^?.!]{0,12}\b(or|from|and|vs|versus)\b( an?| the)? moths?)\b")
_APART = re.compile(r"\btell (them|the two|one from the other)( apart)?\b|\bthem apart\b")
# "... was a moth not a butterfly - how do you tell?": the pair named in a claim, then asked how to tell
_PAIR = re.compile(r"\bmoths?\b[^?.!]{0,12}\b(or|not|rather than|instead of)\b( an?| the)? butterfl(y|ies)\b|"
                   r"\bbutterfl(y|ies)\b[^?.!]{0,12}\b(or|not|rather than|instead of)\b( an?| the)? moths?\b")
_HOW_TELL = re.compile(r"\bhow (do|can|would|does|could|should) (you|i|we|one|people) (tell|know|be sure)\b")


def asks_moth_or_butterfly(text: str) -> bool:
    """Whether ``text`` asks how to tell moths from butterflies in general."""
    norm = normalize(text)
    return bool(_MOTH_OR_BUTTERFLY.search(norm)) or bool(
        _APART.search(norm) and re.search(r"\bmoths?\b", norm) and re.search(r"\bbutterfl(y|ies)\b", norm)
    ) or bool(_PAIR.search(norm) and _HOW_TELL.search(norm))


def is_description(text: str) -> bool:
    """A question that describes an unnamed butterfly or moth."""
    norm = normalize(text)
    return (bool(_KIND.search(norm)) and tells_looks(norm) and not _NOT.search(norm)
            and not asks_moth_or_butterfly(norm))


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
    """Whether ``text`` says what something looks like (a colour, pattern or shape word, alone or in a
    compound: "sky-blue")."""
    words = set(re.findall(r"[a-z0-9-]+", normalize(text)))
    return bool((words | {p for w in words for p in w.split("-")}) & _LOOKS)


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
    hues: set[str] = field(default_factory=set)        # named in the identification passage
    young_hues: set[str] = field(default_factory=set)  # named in sentences about the caterpillar or pupa


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
        for sentence in c.sentences:
            toks = tokens(sentence)
            if c.section == "identification":
                prof.hues |= guide_hues(toks)
            if _YOUNG_WORDS & set(toks):
                prof.young_hues |= guide_hues(toks)
    index._describe_profiles = out  # type: ignore[attr-defined]  # built once per index
    return out


_NEGATE = {"no", "not", "without", "never", "nor"}
_YOUNG_WORDS = {"caterpillar", "caterpillars", "larva", "larvae", "chrysalis", "pupa", "pupae", "cocoon"}


def _hues(words: Sequence[str], negated: bool) -> set[str]:
    return {HUES[_base(w)] for i, w in enumerate(words)
            if _base(w) in HUES and bool(_NEGATE & set(words[max(0, i - 3):i])) == negated}


def hues(words: Sequence[str]) -> set[str]:
    """The hues a list of words names ("reddish", "crimson" -> "red"), leaving out negated ones ("no blue
    at all")."""
    return _hues(words, negated=False)


def negated_hues(words: Sequence[str]) -> set[str]:
    """Hues the description says it lacks ("no blue at all")."""
    return _hues(words, negated=True)


def guide_hues(words: Sequence[str]) -> set[str]:
    """Hues a guide passage names; "dark" wings look black to an observer."""
    return hues(words) | ({"black"} if "dark" in words else set())


def plain_description(text: str) -> str:
    """``text`` with "front wing" / "back wings" written as "forewings" / "hindwings", "checkered" as
    "chequered", and comparisons ("smaller than a monarch") left out: they name another species."""
    for pattern, word in _PLAIN_FORMS:
        text = pattern.sub(word, text)
    return text


def size_fit(words: set[str], span: tuple[float | None, float] | None) -> float:
    """SIZE_MISS when the description's size word contradicts a wingspan of ``(min, max)`` mm, else 1."""
    if span is None:
        return 1.0
    mid = (span[0] + span[1]) / 2 if span[0] is not None else span[1]
    if words & SMALL_WORDS and not words & BIG_WORDS and mid >= SMALL_MID_MM:
        return SIZE_MISS
    if words & BIG_WORDS and not words & SMALL_WORDS and mid <= BIG_MID_MM:
        return SIZE_MISS
    return 1.0


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
               k: int = 2, exclude: Sequence[str] = (),
               spans: dict[str, tuple[float | None, float]] | None = None) -> list[Chunk]:
    """Identification chunks of the ``k`` likeliest species (moths only if it says moth, etc.);
    ``exclude``: species the description compares it with ("like a monarch but smaller");
    ``spans``: wingspans ``(min, max)`` in mm by label, which rule out sizes the description contradicts."""
    del lexical  # the description's own words are read from ``text``
    norm = plain_description(normalize(text))
    toks = tokens(norm)
    want = "moth" if re.search(r"\bmoths?\b", norm) else "butterfly" if "butterfl" in norm else None
    idf = index.bm25.idf
    # words the guide never uses, even in another form ("ngl", "screen"), can neither fit nor rule out an
    # entry ("stripy" stays: the guide says "striped")
    stems5 = _guide_prefixes(index)
    words = [w for w in toks if w not in STOPWORDS and w not in _IGNORE and _prefix(w) in stems5]
    if not words:
        return []
    top_idf = max(idf.values(), default=1.0)

    def weight(w: str) -> float:
        return idf.get(stem(w), top_idf)

    young = bool(re.search(r"\b(caterpillars?|larva|larvae|grubs?|worms?|cocoons?|chrysalis)\b", norm))
    profiles = _profiles(index)
    dense = index.dense(vec)
    ident = {c.entry: i for i, c in enumerate(index.chunks) if c.section == "identification"}
    pairs = _pairs(toks)
    # ("smaller than a monarch" compares; the monarch is excluded and the size word is no size)
    sizes = set(toks) if not exclude else set()
    stated = hues(toks)
    lacking = negated_hues(toks) - stated
    total = sum(weight(w) for w in words) + PAIR_WEIGHT * sum(weight(p) for _, p in pairs)
    scores: dict[str, float] = {}
    shares: dict[str, float] = {}
    # "in costa rica": a range text saying "Central America" counts for the place's words
    phrase = max(_PLACE.findall(norm), key=len, default=None)  # the most specific place named
    region = PLACE_REGIONS.get(phrase, phrase) if phrase else None
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
        if stated or lacking:
            # a hue said to be missing ("no blue at all") counts as found when the entry lacks it
            seen = prof.young_hues if young else prof.hues
            fit = (len(stated & seen) + len(lacking - seen)) / (len(stated) + len(lacking))
            scores[label] *= HUE_FLOOR + (1 - HUE_FLOOR) * fit
        scores[label] *= size_fit(sizes, (spans or {}).get(label))
        if region and not in_region:
            scores[label] *= REGION_MISS
    ranked = sorted(scores, key=lambda e: -scores[e])[:k]
    ranked = [e for e in ranked if shares[e] >= MIN_SHARE]
    # a second candidate only when it is nearly as likely and states as much of the description
    if len(ranked) == 2 and (scores[ranked[1]] < SECOND_RATIO * scores[ranked[0]]
                             or shares[ranked[1]] < shares[ranked[0]] - SECOND_SHARE_GAP):
        ranked = ranked[:1]
    return [index.chunks[ident[e]] for e in ranked]
