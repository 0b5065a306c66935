"""Relatives computed from the guide's taxonomy fields (genus, subfamily, family).

"What is the zebra longwing related to?", "what are its relatives?": when no sentence of the
entry names a relative, the answer is worked out from the structured classification of every
entry, the way size rankings are worked out from ``wingspan_mm``. The entry's own
classification is quoted first; species of the same genus follow (the closest relatives the
guide can vouch for), or, when the genus has no other entry, those of the same subfamily if it
holds only a few. Each named species cites its own classification sentence.
"""

from __future__ import annotations

import re

from butterflyer.chat.asks import without_people
from butterflyer.chat.schema import FieldGuide

# "related to", "relatives", "cousin", "same family as": the answer is another species
RELATIVES = re.compile(r"\b(related|relatives?|cousins?|kin|same (genus|family|subfamily|group|tribe)|"
                       r"family (with|of|as))\b")
MAX_SUBFAMILY = 4


# "is the viceroy related to the monarch's mimicry", "which relative looks like it": lookalikes
LOOKS = re.compile(r"\b(mimic\w*|imitat\w*|cop(y|ies)|look\w*|resembl\w*|confus\w*|similar|tell)\b")


# "is the hummingbird clearwing the same thing as the hummingbird hawk-moth": with two species named,
# whether they are one species, which their two classifications answer
SAME = re.compile(r"\bsame (thing|species|one|kind|insect|animal|moth|butterfly|creature)\b|\bsame as\b")


def asks_same(text: str) -> bool:
    """Whether a question asks if two named species are the same one."""
    return bool(SAME.search(without_people(text.lower())))


def asks_relatives(text: str) -> bool:
    """Whether a question asks which species an entry is related to (not which one it looks like)."""
    low = without_people(text.lower())
    # "is it related to X, or do they just look alike": kinship is asked, looks are the alternative
    either = re.search(r"\b(related|relatives?|kin)\b[^?]*\bor\b[^?]*\blook", low)
    return bool(RELATIVES.search(low)) and (not LOOKS.search(low) or either is not None)


def relatives(guide: FieldGuide, label: str) -> list[tuple[str | None, list[str]]]:
    """``[(sentence or None, labels it cites)]``: ``None`` quotes the cited entry's own
    classification sentence. Empty when the entry has no classification (a mixed label)."""
    entry = guide.species[label]
    if not entry.genus or not entry.family:
        return []
    out: list[tuple[str | None, list[str]]] = [(None, [label])]
    others = sorted((e for e in guide.species.values() if e.label != label and e.family == entry.family),
                    key=lambda e: e.common_name.lower())
    genus = [e for e in others if e.genus == entry.genus]
    if genus:
        names = _join([f"the {e.common_name} ({e.scientific_name})" for e in genus])
        verb = "shares" if len(genus) == 1 else "share"
        out.append((f"{names[0].upper()}{names[1:]} {verb} its genus, {entry.genus}.",
                    [e.label for e in genus]))
        return out
    sub = [e for e in others if entry.subfamily and e.subfamily == entry.subfamily]
    if 0 < len(sub) <= MAX_SUBFAMILY:
        names = _join([f"the {e.common_name} ({e.scientific_name})" for e in sub])
        verb = "is" if len(sub) == 1 else "are"
        out.append((f"{names[0].upper()}{names[1:]} {verb} in the same subfamily, {entry.subfamily}.",
                    [e.label for e in sub]))
    return out


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
