"""Small text helpers shared by chunking, BM25, species linking and grounding checks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

# Words too common to carry meaning for retrieval or grounding checks.
_STOPWORD_TEXT = """
a an the and or but if of to in on at by for with from into onto over under about as is are was were be been
being do does did doing have has had having it its it's this that these those there here what which who whom
whose when where why how can could should would will shall may might must i me my we our you your they them
their he she his her him not no yes so than then too very just also any some all each other such only own same
s t don't doesn't isn't tell me please know want like much many more most about up down out off again once
one ones get got make does kind sort type thing things i'd i'm you're between among during without within
across through toward towards against around before after because while whether either neither both every
u ur n m ll ve re d ya pls plz tbh ngl rn idk imo lol omg btw something anything everything nothing
actually originally exactly really basically honestly literally anyway yeah yep yup um umm erm hmm
supposed supposedly apparently seemingly
somewhere anywhere else aswell am likely unlikely possibly probably
anyone someone everyone anybody somebody nobody everybody
don doesn isn aren didn wasn weren couldn wouldn shouldn haven hasn hadn ain
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|c|ca|approx|St|Mt|Mr|Dr|vs|sp|spp|ssp|subsp|var)|\b[A-Z])\.$")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")
_TOKEN = re.compile(r"[a-z0-9]+")


# letters that no accent stripping turns into ASCII ("rusałka", "iç", "Đà Lạt", "Straße")
_LETTERS = str.maketrans({"ł": "l", "Ł": "L", "ı": "i", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ð": "d",
                          "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ß": "ss", "þ": "th"})


def fold(text: str) -> str:
    """ASCII-folded text with its case kept (accents removed)."""
    folded = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return "".join(c for c in folded if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """Lower-case ASCII-folded text (accents removed), for matching."""
    return fold(text).lower()


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping abbreviations such as ``D. plexippus`` or ``e.g.`` intact."""
    pieces = _SPLIT.split(" ".join(text.split()))
    out: list[str] = []
    for piece in pieces:
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


def stem(token: str) -> str:
    """A very light English stemmer: plural and a few verb endings (good enough for BM25 on a guide)."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("sses", "shes", "ches")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    if len(token) > 5 and token.endswith("ing"):
        return _undouble(token[:-3])
    if len(token) > 4 and token.endswith("ed"):
        return _undouble(token[:-2])
    return token


def _undouble(root: str) -> str:
    """"sitt" -> "sit", "spott" -> "spot" (a doubled final consonant before -ing/-ed); "call", "pass" and
    "buzz" keep theirs."""
    if len(root) >= 4 and root[-1] == root[-2] and root[-1] not in "aeiouylsz":
        return root[:-1]
    return root


def tokens(text: str) -> list[str]:
    """Normalized word tokens (no stemming, stopwords kept)."""
    return _TOKEN.findall(normalize(text))


# Marks that end a clause: a name never runs across one ("quick question - painted lady host plants")
# (an opening quote starts a phrase too: "Oscar insists 'moths only come out at night'")
_CLAUSE_GAP = re.compile(r"[.!?;:,()\[\]\u2013\u2014\"\u201c\u201d]|\s-|-\s|\s['\u2018]")


def clause_starts(text: str) -> set[int]:
    """Indices (into :func:`tokens`) of the tokens that follow a clause mark: a full stop, question or
    exclamation mark, colon, semicolon, comma, bracket, free-standing dash (not the hyphen in "c-album"),
    double quote or opening single quote (not the apostrophe in "it's")."""
    norm = normalize(text)
    out, prev_end = set(), 0
    for k, m in enumerate(_TOKEN.finditer(norm)):
        if k and _CLAUSE_GAP.search(norm[prev_end:m.start()]):
            out.add(k)
        prev_end = m.end()
    return out


def hyphen_suffixes(text: str, suffixes: Collection[str]) -> set[int]:
    """Indices (into :func:`tokens`) of the tokens in ``suffixes`` joined by a hyphen to the word before
    them ("swallowtail-shaped")."""
    norm = normalize(text)
    return {k for k, m in enumerate(_TOKEN.finditer(norm))
            if m.group(0) in suffixes and m.start() > 1 and norm[m.start() - 1] == "-"
            and norm[m.start() - 2].isalnum()}


def name_forms(name: str) -> tuple[str, ...]:
    """A normalised name in the singular and the plural ("gulf fritillary", "gulf fritillaries"), with
    hyphens read as spaces."""
    name = normalize(name).replace("-", " ")
    plural_y = name[:-1] + "ies" if name.endswith("y") else name
    return tuple(dict.fromkeys((name, name + "s", name + "es", plural_y)))


def terms(text: str) -> list[str]:
    """Stemmed content terms: tokens without stopwords, for BM25 and overlap checks."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS]


_IS_BEFORE = ("what", "where", "who", "how", "that")
_NOT_AFTER = ("does", "do", "is", "are", "did", "can", "was", "were", "have", "has")
# Misspelt question words visitors type ("wher do", "wat does", "were does it live"): they decide what
# is asked, so they are repaired before anything else reads the message. "were" only before a verb
# that makes it a question ("were they common" stays).
_QUESTION_TYPOS = [
    (re.compile(r"\b(wher|whre|wehre|were(?= (do|does|did|is|are|can|could|would|should|will)\b))\b", re.I),
     "where"),
    (re.compile(r"\b(wat|wht|waht|whta|wot)\b", re.I), "what"),
    (re.compile(r"\b(hw|hwo|howw)\b", re.I), "how"),
    (re.compile(r"\b(wy|whyy)\b", re.I), "why"),
    # texting "y" for why, only where a question starts with it ("y do birds leave this one alone")
    (re.compile(r"^\s*y(?= (do|does|did|is|are|was|were|would|can|cant|dont|doesnt)\b)", re.I), "why"),
    (re.compile(r"\bhow (lond|lomg|lnog|logn|lng|longg)\b", re.I), "how long"),
    (re.compile(r"\bdose(?= (a|an|the|it|they|this|that|my)\b)", re.I), "does"),
    # the word visitors misspell most: "catapiller", "cattapilar", "caterpiller"
    (re.compile(r"\bcatt?[aeiou]r?p+[aeiou]?l+[aeiou]r(s?)\b", re.I), r"caterpillar\1"),
    # a word dictated or typed in two ("cater pillars", "butter flies", "wing span")
    (re.compile(r"\bcater pillar(s?)\b", re.I), r"caterpillar\1"),
    (re.compile(r"\bbutter (fly|flies)\b", re.I), r"butter\1"),
    (re.compile(r"\b(wing|life) span(s?)\b", re.I), r"\1span\2"),
    # contractions typed without the apostrophe ("whats a chrysalis", "why doesnt it")
    (re.compile(rf"\b({'|'.join(_IS_BEFORE)})s\b", re.I), r"\1 is"),
    (re.compile(rf"\b({'|'.join(_NOT_AFTER)})nt\b", re.I), r"\1 not"),
]
# the same contractions as words ("whats", "doesnt"), which a typo repair must leave for the rules above
RUN_TOGETHER = frozenset({f"{w}s" for w in _IS_BEFORE} | {f"{w}nt" for w in _NOT_AFTER})


# Everyday phrasings of something the guide says in one word: "wiped out" is what the guide calls
# extinct, "once a year or twice" asks how many generations (broods) a year, "all the way" how far.
_IDIOMS = [
    (re.compile(r"\b(wiped|wipe|wipes|wiping|die|died|dies|dying|dyed) out\b", re.I), "extinct"),
    (re.compile(r"\b(in|into) (plain|normal|simple|everyday) english\b", re.I), "called"),
    # "flies all the way to Mexico" says how far, not which way; "in danger of dying out" is threatened
    (re.compile(r"\ball the way\b", re.I), "far"),
    (re.compile(r"\b(in danger|at risk) of\b", re.I), "threatened,"),
    # "name" as an order to list, not a question about names: "caterpillar foodplants - name two",
    # "Name the caterpillar food plant of the crimson patch."
    (re.compile(r"\bname (one|two|three|four|five|a few|some|any|\d+)\b", re.I), r"list \1"),
    (re.compile(r"^(\s*)name (the|a|an|its|their)\b", re.I), r"\1what is \2"),
    (re.compile(r"\b(once|twice|two times|three times|how many times|how often)\b[a-z ]{0,20}\b"
                r"(a|per|each|every) year\b", re.I), r"\g<0> generations"),
]


def repair_question_words(text: str) -> str:
    """``text`` with misspelt question words spelt right ("wher do they live" -> "where do they live")
    and everyday idioms put in the guide's words ("wiped out" -> "extinct")."""
    for pattern, word in _QUESTION_TYPOS + _IDIOMS:
        text = pattern.sub(word, text)
    return text


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, cut off above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def repair_typos(text: str, known: frozenset[str], keep: set[str]) -> str:
    """``text`` with each misspelt word that is a slip of exactly one ``known`` word spelt right
    ("what is it caled" -> "called", "posionous" -> "poisonous", "adlts" -> "adults").

    Only words of five letters or more that are neither in ``keep`` (the guide's vocabulary)
    nor stopwords are touched; a slip keeps its first letter and is one edit away (two for words
    of eight letters or more); a word that is a slip of two known words stays as typed.
    """
    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        low = normalize(word)
        if len(low) < 5 or low in keep or stem(low) in keep or low in STOPWORDS or low in known:
            return word
        limit = 2 if len(low) >= 8 else 1
        near = {k: edit_distance(low, k, limit) for k in known if k[0] == low[0]}
        best = sorted((d, k) for k, d in near.items() if d <= limit)
        if not best or (len(best) > 1 and best[1][0] == best[0][0]):
            return word  # no known word that close, or two equally close
        return best[0][1]
    return re.sub(r"[A-Za-z]+", fix, text)


def repair_swaps(text: str, vocabulary: Collection[str]) -> str:
    """``text`` with each unknown word of six letters or more that is two neighbouring letters swapped
    in exactly one ``vocabulary`` word put right ("ylelow" -> "yellow", "floirda" -> "florida"). The
    most common typing slip, and one that never turns one real word into another of the guide's."""
    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        low = normalize(word)
        if len(low) < 6 or low in vocabulary or low in STOPWORDS or stem(low) in vocabulary:
            return word
        swapped = {low[:i] + low[i + 1] + low[i] + low[i + 2:] for i in range(len(low) - 1)}
        found = [w for w in swapped if w in vocabulary]
        return found[0] if len(found) == 1 else word
    return re.sub(r"[A-Za-z]+", fix, text)
