"""Size questions across the guide, computed from the structured ``wingspan_mm`` field.

"The biggest moth", "the largest butterfly in Australia", "which is bigger, a luna moth or
a polyphemus moth?": the answer is worked out from the entries' wingspans (the largest
size a reference gives) and the region words of their ``distribution`` text, and cites the
wingspan sentence of every species it names. Entries without a wingspan take no part,
and the answer says the ranking covers only the species in the guide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from butterflyer.chat.schema import FieldGuide, SpeciesEntry
from butterflyer.chat.text import normalize

_MOST = re.compile(r"\b(biggest|largest|hugest|widest|smallest|tiniest|bigger|larger|wider|smaller|tinier)\b|"
                   r"\bas (big|large|wide|small|tiny) as\b")
_SMALL = {"smallest", "tiniest", "smaller", "tinier"}
# region word in a question -> words that place a species there in its distribution text
REGIONS: dict[str, tuple[str, ...]] = {
    "australia": ("australia", "queensland"),
    "africa": ("africa",),
    "madagascar": ("madagascar",),
    "asia": ("asia", "india", "china", "malay", "borneo", "sumatra", "indonesia", "thailand", "myanmar",
             "japan", "philippines", "nepal", "himalaya"),
    "europe": ("europe", "britain"),
    "britain": ("britain",),
    "north america": ("north america", "united states", "canada", "florida", "texas", "california"),
    "south america": ("south america", "brazil", "peru", "colombia", "argentina", "bolivia", "venezuela"),
    "central america": ("central america", "mexico", "panama", "costa rica"),
    "the americas": ("north america", "south america", "central america", "united states", "canada",
                     "mexico", "florida", "texas", "california", "brazil", "peru", "colombia", "venezuela",
                     "argentina", "bolivia", "ecuador", "panama", "costa rica", "caribbean", "west indies",
                     "cuba", "trinidad", "americas"),
}
# adjectives of a region ("the north American swallowtails"): read for rankings only, since the same
# words also begin species names ("Asian swallowtail")
REGION_ADJECTIVES = {"australian": "australia", "north american": "north america",
                     "south american": "south america", "central american": "central america",
                     "african": "africa", "asian": "asia", "european": "europe", "american": "north america"}
ALIASES = {"aussie": "australia", "usa": "north america", "us": "north america", "america": "north america",
           "uk": "britain",
           "england": "britain", "costa rica": "central america", "mexico": "central america",
           "queensland": "australia", "borneo": "asia", "india": "asia", "malaysia": "asia",
           "florida": "north america", "texas": "north america", "california": "north america",
           "canada": "north america", "ohio": "north america", "british": "britain", "scotland": "britain",
           "brazil": "south america", "peru": "south america", "amazon": "south america",
           "americas": "the americas", "new world": "the americas"}
_REGION_NAMES = {**ALIASES, **REGION_ADJECTIVES}
_REGION_WORDS = sorted([*REGIONS, *_REGION_NAMES], key=len, reverse=True)  # longest first
# group words in a question -> the family (or subfamily) that holds that group
_GROUPS = {"swallowtail": "Papilionidae", "birdwing": "Papilionidae", "skipper": "Hesperiidae",
           "hairstreak": "Lycaenidae", "blue": "Lycaenidae", "copper": "Lycaenidae",
           "sulphur": "Pieridae", "hawk moth": "Sphingidae", "hawkmoth": "Sphingidae", "sphinx": "Sphingidae",
           "silk moth": "Saturniidae", "silkmoth": "Saturniidae", "moon moth": "Saturniidae",
           "tiger moth": "Arctiinae"}


def _group(norm: str) -> str | None:
    """The group word or phrase a normalised question names ("hawk moth"), longest first."""
    for g in sorted(_GROUPS, key=len, reverse=True):
        if re.search(rf"\b{g.replace(' ', '[ -]')}s?\b", norm):
            return g
    return None


@dataclass(frozen=True)
class SizeAnswer:
    """Sentences (each citing the wingspan of the labels listed with it)."""

    sentences: list[tuple[str, list[str]]]


_SUPERLATIVE = re.compile(r"\b(biggest|largest|hugest|widest|smallest|tiniest)\b")
# a comparative asks only inside a comparison ("which is smaller, A or B", "is A bigger than B");
# "orange with black veins, but smaller" describes a butterfly and asks nothing about size
_COMPARISON = re.compile(r"\bthan\b|\bor\b|\bvs\b|\bversus\b|\bas (big|large|wide|small|tiny) as\b|"
                         r"^\s*(which|what|who|is|are|was|were)\b")


def asks_superlative(text: str) -> bool:
    """Whether the question asks for the largest or smallest ("which is the biggest moth")."""
    return bool(_SUPERLATIVE.search(normalize(text)))


def is_size_question(text: str) -> bool:
    """Whether the question asks for a superlative, or compares sizes ("which is bigger, A or B")."""
    norm = normalize(text)
    if _SUPERLATIVE.search(norm):
        return True
    return bool(_MOST.search(norm) and _COMPARISON.search(norm))


def name_in_text(e: SpeciesEntry) -> str:
    """The common name cased as the entry's prose writes it ("monarch", "Rajah Brooke's birdwing")."""
    found = re.search(re.escape(e.common_name), e.identification, re.IGNORECASE)
    return found.group(0) if found else e.common_name


def _span(e: SpeciesEntry) -> float | None:
    return e.wingspan_mm.max if e.wingspan_mm is not None else None


def _size_text(e: SpeciesEntry) -> str:
    w = e.wingspan_mm
    assert w is not None
    return f"{w.min:g} to {w.max:g} mm" if w.min is not None else f"up to {w.max:g} mm"


def region_of(norm: str) -> str | None:
    """The region a normalised question names ("in costa rica" -> central america), if any."""
    for word in _REGION_WORDS:
        if re.search(rf"\b{re.escape(word)}\b", norm):
            return _REGION_NAMES.get(word, word)
    return None


def compare(guide: FieldGuide, a: str, b: str) -> SizeAnswer | None:
    """Which of two named species is larger, from their wingspans; ``None`` if either lacks one."""
    ea, eb = guide.species[a], guide.species[b]
    sa, sb = _span(ea), _span(eb)
    if sa is None or sb is None:
        return None
    if sa == sb:
        text = (f"The {name_in_text(ea)} and the {name_in_text(eb)} reach the same wingspan in my guide "
                f"({_size_text(ea)} and {_size_text(eb)}).")
        return SizeAnswer([(text, [a, b])])
    big, small = (ea, eb) if sa > sb else (eb, ea)
    text = (f"The {name_in_text(big)} is larger than the {name_in_text(small)}: its wingspan is "
            f"{_size_text(big)}, against {_size_text(small)}.")
    return SizeAnswer([(text, [big.label, small.label])])


# a colour said of the insect itself ("the biggest blue butterfly", "largest yellow moth"), read as its look;
# "the blues" alone stays the group
_HUES = ("blue", "green", "yellow", "orange", "red", "white", "black", "brown", "purple", "pink")
_ASKED_HUE = re.compile(rf"\b({'|'.join(_HUES)}) (butterfly|butterflies|moth|moths|one|ones)\b")


def asked_hue(norm: str) -> str | None:
    """The colour a ranking question gives the insect ("biggest blue butterfly" -> "blue"), if any."""
    m = _ASKED_HUE.search(norm)
    return m.group(1) if m else None


def mainly(entry: SpeciesEntry, hue: str) -> bool:
    """Whether the first identification sentence gives ``hue`` as the insect's own colour ("is a brilliant,
    metallic blue", "is brilliant electric blue above"), not a spot's or a sheen's."""
    first = re.split(r"(?<=[.!?])\s", entry.identification.strip())[0].lower()
    # (only describing words between: "a small member of the blue family" is brown)
    return re.search(rf"\b(is|are)\s+(an?\s+)?((?!(of|the|with|and|in|on|member|family)\b)[a-z]+,?\s+){{0,4}}"
                     rf"([a-z]+-)?{hue}\b(?!-)", first) is not None


def rank(guide: FieldGuide, text: str) -> SizeAnswer | None:
    """The largest (or smallest) species matching the question's kind, group, colour and region."""
    norm = normalize(text)
    words = set(re.findall(r"[a-z]+", norm))
    kind = ("moth" if words & {"moth", "moths"}
            else "butterfly" if words & {"butterfly", "butterflies"} else None)
    hue = asked_hue(norm)
    group = _group(norm)
    if group is not None and group == hue and not re.search(rf"\b{hue}s\b", norm):
        group = None  # "the biggest blue butterfly" is blue to look at, not one of the blues
    family = _GROUPS[group] if group else None
    region = region_of(norm)
    small = bool(_MOST.search(norm) and _MOST.search(norm).group(1) in _SMALL)  # type: ignore[union-attr]
    pool = []
    for e in guide.species.values():
        in_group = not family or family in (e.family, e.subfamily)
        if _span(e) is None or (kind and e.kind != kind) or not in_group:
            continue
        if region and not any(w in normalize(e.distribution) for w in REGIONS[region]):
            continue
        if hue and not mainly(e, hue):
            continue
        pool.append(e)
    if not pool:
        return None
    pool.sort(key=lambda e: (_span(e) or 0.0), reverse=not small)
    best = pool[0]
    what = group or kind or "species"
    if hue and not group:
        what = f"{hue} {what}"  # "Of the 3 blue butterfly species ..."
    where = f" in {region.title().replace('The ', 'the ')}" if region else ""
    adj = "smallest" if small else "largest"
    sentence = (f"Of the {len(pool)} {what} species{where} with a wingspan in my guide, the "
                f"{name_in_text(best)} is the {adj}: its wingspan is {_size_text(best)}.")
    return SizeAnswer([(sentence, [best.label])])
