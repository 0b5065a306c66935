"""Decide what to quote: which guide sentences answer a question, or that none do.

The planner scores *sentences* inside the retrieved chunks: the chunk's fused
retrieval score, a bonus when its section is the one the question asks for, and the
share of the question's own words (IDF-weighted) the sentence contains. A question is
answered only when the best sentence is supported: it sits in the asked-for section,
carries that section's tell-tale words (a size quoted in a fact), or shares most of the
question's content words. Otherwise the reply is "my field guide doesn't cover that".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from butterflyer.chat.asks import ASKS, MIMICRY, WHY, answers_ask, asks, asks_for_other
from butterflyer.chat.chunks import Chunk
from butterflyer.chat.describe import MOTH_OR_BUTTERFLY, PLAIN_HEADS, asks_moth_or_butterfly
from butterflyer.chat.index import ChatIndex
from butterflyer.chat.intent import (
    CUE_TERMS,
    DOMAIN,
    GROUP_NOUNS,
    STRONG_CUES,
    Intent,
    asking_clauses,
    asks_food_plant,
    parse_intent,
)
from butterflyer.chat.kin import asks_relatives, asks_same
from butterflyer.chat.rank import FEATURES, Ranker, rules
from butterflyer.chat.retrieve import Retriever
from butterflyer.chat.text import STOPWORDS, normalize, stem, terms, tokens

MIN_GENERAL_SIM = 0.40
STRONG_SIM = 0.70
TOPIC_SIM = 0.60   # a general question this close to a topic page ...
TOPIC_LEX = 0.20   # ... needs only this share of its asked words in the answer sentence
QUANTITY = re.compile(r"\bhow (many|much|far|long|big|large|old|fast|heavy|tall|wide|small)\b")
COMMERCE = {"buy", "price", "cost", "sell", "sold", "purchase", "shop", "dollar", "money", "pay", "cheap",
            "expensive", "euro", "pound", "store", "worth", "value", "valuable", "ticket", "admission"}
# where to go and when it opens: no field guide says ("which butterfly house ... its opening hours")
_FACILITY = (r"(?:toilets?|restrooms?|bathrooms?|loos?|wc|cafe|café|gift shop|shop|exit|entrance|car park|"
             r"parking|lifts?)")
VISIT = re.compile(r"\bopening (hours|times)\b|\b(open|opens|closes) (today|tomorrow|now|on \w+day)\b|"
                   # a visitor's way round a butterfly house: "where is the toilet", "is there a cafe here"
                   rf"\bwhere(?:'s|s| is| are| r| do i find| can i find) (?:the |a )?(?:nearest |closest )?"
                   rf"{_FACILITY}\b|"
                   rf"\b(?:is there|are there|do you have) (?:a |an |any )?{_FACILITY}\b")


def mentions_business(text: str) -> bool:
    """Whether a message mentions buying, prices or opening hours anywhere (which no field guide answers);
    :attr:`Query.asked_business` looks only at the clauses that ask."""
    return bool(set(tokens(text)) & COMMERCE or VISIT.search(text.lower()))


NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "twenty", "hundred", "hundreds", "thousand", "thousands", "million", "millions",
                "dozen", "single", "half", "once", "twice"}
# words that count things ("two broods", "hundreds of eggs"); "single eggs" says how, not how many
COUNT_WORDS = (NUMBER_WORDS - {"single", "once", "twice", "half"}) | {"few", "several", "many", "dozens"}
UNITS = {"day", "days", "week", "weeks", "month", "months", "year", "years", "few", "several"}
# Words a sentence needs to answer "how far / fast / long / big / old" (besides a number).
_SIZE = {"mm", "cm", "millimetre", "millimetres", "centimetre", "centimetres", "wingspan", "inch", "inches"}
_TIME = {"day", "days", "week", "weeks", "month", "months", "year", "years", "lifespan", "hour", "hours"}
QUANTITY_UNITS = {
    "far": {"km", "kilometre", "kilometres", "mile", "miles", "metre", "metres", "far", "distance"},
    "fast": {"km", "kilometre", "kilometres", "mph", "speed", "fast", "per"},
    "long": _SIZE | _TIME | {"long", "length", "longest", "metre", "metres"},
    "big": _SIZE | {"large", "largest", "big", "biggest", "size"},
    "large": _SIZE | {"large", "largest", "size"},
    "small": _SIZE | {"small", "smallest", "size"}, "wide": _SIZE, "old": _TIME | {"old", "age"},
}
# measures whose units say on their own that a sentence answers ("how long" may mean time or size;
# "how fast" wants a speed, and kilometres alone may be a distance)
MEASURED = {"far", "old"}
SPECIFIC_SKIP = ("overview", "facts")
_LIFESPAN_WORD = re.compile(r"\b(lifespans?|life ?spans?|life expectancy)\b|"
                            r"\b(live|lives|living|survive)\b[a-z ]{0,20}(?<!\ball )(?<!\ball the )"
                            r"(?<!\bthe whole )\b(days?|weeks?|months?|years?)\b")
LIFESPAN_ASK = re.compile(r"\bhow long\b.*\b(live|lives|living|survive|last)\b")
DURATION = re.compile(r"\b(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|few|several|"
                      r"many)\s+(or \w+ )?(days?|weeks?|months?|years?)\b|\blifespan\b")
CUE_SHARE = 0.3  # a section cue word found in a sentence counts this much of a content word
# an unsupported "why" still takes a reason that ranks within WHY_MARGIN of the top (the ranking
# weights, hand-set or learned, are in rank.py)
WHY_MARGIN = 0.03
# ... and a sentence that states the reason outright may share fewer of the question's own words than one
# that only restates the question, as long as it shares this share of them (chosen on dev)
WHY_KEEP_LEX = 0.5
# words every topic sentence may share, which do not make one sentence go on from another
TOPIC_GENERIC = {stem(w) for w in ("butterfly", "butterflies", "moth", "moths", "caterpillar", "caterpillars",
                                   "species", "many", "most", "some", "often", "usually", "also")}
# words that state a reason outright (not a cue such as "scales" or "predators" that only may)
STRONG_REASON = re.compile(r"\b(because|so that|which makes|which is why|that is why|mimic\w*|in order to|"
                           r"due to|thanks to|so as to|comes? from|caused by|camouflag\w*)\b|, so\b")
# Meaning-level match of the question to each sentence (MiniLM): a rewording shares no words with
# the sentence that answers it ("what noise does it make" / "a hissing sound"). It steers the
# ranking, and the one sentence of the asked-about entries that stands clearly above all others
# (by SEM_MARGIN) answers even without shared words, once the hard checks below have passed.
SEM_MARGIN = 0.08
# a question about butterflies or moths in general prefers a topic sentence ranked this close to the top
TOPIC_MARGIN = 0.03
# the extra weight of shared words when the top sentence shares too few of them
SHARED_REWEIGH = 0.1
# generated sentences (names, wingspan) resemble any "how much / what is it called" question; the
# lexical rules answer those, so they never stand out by meaning alone
SEM_SKIP = ("overview", "wingspan")
# a species question its entry cannot answer ("why were dozens of tiger swallowtails on the wet mud") is
# answered by a topic sentence holding at least this share (IDF-weighted) of the asked words: the habit
# of butterflies in general, which the topic pages explain
TOPIC_SHARE = 0.5
HABIT_SIM = 0.35  # ... and is at least this close to it in meaning
# ... unless it holds this many of them ("loads of great jays sitting on wet sand by the river")
HABIT_WORDS = 3
# a species question nothing else answers takes its entry's sentence closest in meaning when that one is
# this close and holds this share of the asked words
CLOSE_SIM = 0.72
CLOSE_LEX = 0.10
# a general question is answered by the topic sentence closest to it in meaning when that one is this close
# and leads the ranked best by this much
GENERAL_MEANT_SIM = 0.65
GENERAL_MEANT_LEAD = 0.15
# ... unless the ranked best carries at least this share of the question's words (and more than it)
GENERAL_KEEP_LEX = 0.5


# Words of a common name that describe no feature ("cabbage *white*" keeps "cabbage").
NAME_GENERIC = {"butterfly", "moth", "common", "great", "eastern", "western", "southern", "northern", "white",
                "blue", "swallowtail", "skipper", "hairstreak", "copper", "lesser", "greater", "little"}

# Life stages: words that name each one, and sections that are about it by definition.
STAGES = {"caterpillar": {"caterpillar", "caterpillars", "caterpilar", "caterpilars", "larva", "larvae",
                          "larval", "hornworm", "hornworms", "cabbageworm", "woolly", "grub", "grubs"},
          "pupa": {"pupa", "pupae", "pupate", "pupates", "chrysalis", "chrysalises", "cocoon", "cocoons"},
          "egg": {"egg", "eggs"}}
# (eggs are laid on the caterpillar's food plant: "what plant does it lay eggs on" is a host-plant question)
STAGE_SECTIONS = {"caterpillar": {"larval_host_plants"}, "pupa": set(), "egg": {"larval_host_plants"}}
# "what does it eat": a sentence outside the food sections answers only if it says what is eaten
FOOD_ASK = {"eat", "eats", "feed", "feeds", "food", "diet", "nectar", "drink", "drinks"}
FOOD_SAY = {"eat", "eats", "eaten", "eating", "feed", "feeds", "fed", "feeding", "food", "foodplant",
            "nectar", "drink", "drinks", "sip", "sips", "leaves", "plant", "plants", "flowers", "fruit",
            "sap", "pollen", "diet", "host", "vine", "vines", "shrub", "shrubs", "grow", "mouth", "mouths",
            "mouthparts", "proboscis", "tongue"}
FOOD_SECTIONS = {"larval_host_plants", "adult_food"}

# "what does it eat" is answered for both stages; "where does it live" only by the range (the
# habitat answers "what kind of place", and quoting both pads the answer)
PAIRS = {"larval_host_plants": "adult_food", "adult_food": "larval_host_plants"}
_WHERE = re.compile(r"\bwhere\b")
# "which countries", "what part of the US", "anywhere apart from Florida": the range is asked
_RANGE_WORDS = re.compile(r"\bwhich (countr\w+|parts?|continents?|regions?)\b|"
                          r"\bwhat (part|parts|countr\w+|regions?) of\b|"
                          r"\banywhere (else|apart|besides|other|outside)\b")
_RANGE_ASK = re.compile(_RANGE_WORDS.pattern + r"|\bin the wild\b|"
                        r"\bwhere\b.*\b(live|lives|living|found|see|seen|occur|occurs|from)\b")
# words of a range question itself, which any sentence may share without answering it
_RANGE_TERMS = {stem(w) for w in ("live", "lives", "see", "seen", "find", "found", "occur", "country",
                                  "countries", "part", "parts", "region", "wild", "world", "anywhere",
                                  "apart", "else")}
_PLACE_KIND = re.compile(r"\b(habitat|environment|kind of (place|habitat|country)|type of (place|habitat)|"
                         r"sort of place|what (places|place)|look for|hang out|hangs out|hanging out|"
                         r"where (?:(?:do|does|did) )?(?:\w+ ){0,3}(hide|hides|rest|rests|roost|roosts|sleep|"
                         r"sleeps|shelter|shelters)|spends? (its|their|the) (time|days))\b")
# "where would I find one", "where to look": both where in the world and in what kind of place
_WHERE_TO_FIND = re.compile(r"\bwhere (to|would|could|should|might|can) (?:\w+ ){0,3}"
                            r"(find|look|spot|search|see)\b")


_BECOME = re.compile(r"\b(become|becomes|turn into|turns into|change into|changes into|develop into)\b")
_NAME_REASON = re.compile(r"\b(after|because|likens|for its|from the)\b")
_NAMING = re.compile(r"\b(call|calls|called|name|names|named)\b")


def asked_name(asking: str) -> str:
    """The name a naming question ends on ("why do they call it the camberwell beauty" -> "camberwell
    beauty"): its last two words that are no stopwords, or "" when it names nothing."""
    m = list(_NAMING.finditer(asking.lower()))
    if not m:
        return ""
    words = [w for w in tokens(asking[m[-1].end():]) if w not in STOPWORDS]
    return " ".join(words[-2:])


def explains_name(sentence: str, name: str) -> bool:
    """Whether ``sentence`` gives the name ``name`` as the one it explains ("the name mourning cloak
    likens ...", "is called the camberwell beauty ... after ...")."""
    if not name:
        return False
    text = " ".join(tokens(sentence))
    return bool(re.search(rf"\b(name|called|known as)( the| a| an)? {re.escape(name)}\b", text))


# a question whose answer is one or more species: "which moth", "what kind", "turns into", "called"
_WHICH_SPECIES = re.compile(r"\b(which|what) (moths?|butterfl\w+|species|ones?|kinds?|sorts?|types?)\b|"
                            r"\bturns? into\b|\bcalled\b")
_PLACE_PREPOSITIONS = {"on", "at", "in", "near", "around", "by", "onto", "over"}
_OWNERS = {"my", "our", "your"}
_DETERMINERS = {"my", "our", "your", "the", "a", "an", "his", "her", "their", "some", "this", "that"}
# the stage a question names is behind it: "after it comes out of its cocoon", "once it emerges from the pupa"
_EMERGED = re.compile(r"\b(out of|emerg\w* from|hatch\w* from|leaves?|left)\s+(its|the|a|their|his|her)?\s*"
                      r"(cocoon|chrysalis|pupa|pupal case)")


# two questions in one, each with its own question word: "in which months and what habitat"
_TWO_ASKS = re.compile(r"\b(which|what|when|where|how)\b[^?.!]*?\band (in )?(which|what|when|where|how)\b")


@dataclass
class Plan:
    """Chunks (possibly single-sentence views) in answer order, with how many sentences to quote."""

    parts: list[tuple[Chunk, int]] = field(default_factory=list)

    def add(self, chunk: Chunk, limit: int) -> None:
        if all(c.id != chunk.id for c, _ in self.parts):
            self.parts.append((chunk, limit))


@dataclass
class Query:
    """A parsed question: its text, intent, species and the content words left after the names."""

    text: str
    intent: Intent
    targets: list[str]
    residual: list[str]
    foreign: set[str] = field(default_factory=set)  # content words the guide never uses ("genome")
    sims: np.ndarray | None = None  # the question's similarity to every guide sentence
    pick: tuple[str, int] | None = None  # (chunk id, sentence) that stands out by meaning

    @property
    def content(self) -> set[str]:
        """Residual words that are not section cues: what the answer itself must mention."""
        return {t for t in self.residual if t not in CUE_TERMS}

    @cached_property
    def asking(self) -> str:
        """The clauses of the question that ask (the whole text when none stands apart)."""
        return asking_clauses(self.text)

    @cached_property
    def why(self) -> bool:
        """Whether a clause that asks wants a reason ("... I wondered whether that's why we see so many"
        is context beside "what do its caterpillars live on")."""
        return bool(WHY.search(self.asking.lower()))

    @cached_property
    def asked_residual(self) -> set[str]:
        """Residual words of the clauses that ask, when context stands apart from them ("my daughter keeps
        mixing them up"); empty when every clause asks."""
        return set(self.residual) & set(terms(self.asking)) if self.asking != self.text else set()

    @property
    def asked_content(self) -> set[str]:
        """Content words of the clauses that ask ("my grandfather used to talk about the hop merchant.
        which butterfly is that?" asks about none of grandfather, used, talk)."""
        return self.asked_residual - CUE_TERMS if self.asking != self.text else self.content

    @property
    def wanted(self) -> list[str]:
        out: list[str] = []
        for s in self.intent.sections:
            out.extend(["larval_host_plants", "adult_food"] if s == "food" else [s])
        return out

    @property
    def asked_business(self) -> bool:
        """Whether a clause that asks is about buying or prices ("the garden centre only sells nectar
        flowers - do I need plants for the caterpillars too?" asks about plants)."""
        return bool((self.asked_residual or set(self.residual)) & COMMERCE)

    @cached_property
    def asked_words(self) -> set[str]:
        """Residual words of the clauses that ask, cue words too, less words the guide never uses and
        counts ("I never see them at my light trap any more. why have they declined" asks about the
        decline; "dozens of them" says how many, not what they did)."""
        return {w for w in (self.asked_residual or set(self.residual)) - self.foreign
                if w not in NUMBER_WORDS | COUNT_WORDS}

    @cached_property
    def asks(self) -> list[str]:
        """Reason / relation / name: the kind of sentence that answers the question."""
        # read from the clauses that ask ("it looks like a butterfly, does it fly by day?" asks no relation)
        return asks(self.asking)

    @cached_property
    def stage(self) -> str | None:
        """The life stage the question is about ("caterpillar", "pupa", "egg"), if it names one."""
        if _BECOME.search(self.text.lower()):
            return None  # "how long does it take for a caterpillar to become a butterfly": the whole cycle
        if _EMERGED.search(self.text.lower()):
            return None  # "how long does it live after it comes out of its cocoon": the adult
        words = set(tokens(self.text))
        named = [k for k, v in STAGES.items() if words & v]
        if len(named) >= 2 and re.search(r"\bor\b", self.text.lower()):
            return None  # "which stage does it pass the winter in: egg, pupa or adult": any stage may answer
        return named[0] if named else None

    @cached_property
    def asked_name(self) -> str:
        """The name a naming question ends on (see :func:`asked_name`)."""
        return asked_name(self.asking)

    @cached_property
    def asks_lifespan(self) -> bool:
        """Whether the question asks how long the insect lives ("how long do they live", "its lifespan")."""
        return bool((self.measure == "long" and LIFESPAN_ASK.search(self.text.lower()))
                    or _LIFESPAN_WORD.search(self.asking.lower()))

    @cached_property
    def compares(self) -> bool:
        """Whether a clause that asks compares ("how long do monarchs live? the fall migrants vs the summer
        ones" asks for a lifespan; the comparison is context)."""
        if not self.intent.compare or not (self.asking == self.text or parse_intent(self.asking, []).compare):
            return False
        # with one species, "vs" sets two of its own things side by side ("summer generation vs migrating
        # generation", "broods in the south compared with Canada"); only a cue such as "tell apart" or
        # "similar" asks for its look-alikes
        bare = re.sub(r"\b(vs|versus|compared? (with|to)|in comparison (with|to))\b", " ",
                      self.asking.lower())
        return len(self.targets) >= 2 or parse_intent(bare, []).compare

    @cached_property
    def placed(self) -> set[str]:
        """Terms said as a place ("on my buddleia", "at the phlox", "in our garden")."""
        words = tokens(self.asking)
        out: set[str] = set()
        for k, w in enumerate(words[:-1]):
            if w in _PLACE_PREPOSITIONS:
                rest = [x for x in words[k + 1:k + 4] if x not in _DETERMINERS]
                out.update(terms(" ".join(rest[:1])))
        return out

    @cached_property
    def context(self) -> set[str]:
        """Terms for the visitor's own people, things and places: a word after "my", "our" or "your" ("my
        class wants to raise some", "my students") and a place it is said at (:attr:`placed`)."""
        words = tokens(self.asking)
        owned = {w for k, w in enumerate(words[1:], 1) if words[k - 1] in _OWNERS}
        return set(terms(" ".join(owned))) | self.placed

    @cached_property
    def lex_words(self) -> set[str]:
        """The words a sentence should share with the question: those of the clauses that ask, when context
        stands apart ("I want to see the autumn migration" is no part of "how do they find their way"; a
        one-word tail such as "only days?" is too little to go on)."""
        return self.asked_residual if len(self.asked_residual) >= 2 else set(self.residual)

    @property
    def quantity(self) -> bool:
        return bool(QUANTITY.search(self.text.lower()))

    @property
    def measure(self) -> str | None:
        """The adjective of "how far/fast/long/big ..." questions."""
        m = QUANTITY.search(self.text.lower())
        return m.group(1) if m else None

    @cached_property
    def counted(self) -> list[str]:
        """The nouns of "how many <noun>" (the answer must count one of them), stemmed: "how many times a
        year ... I mean how many generations" counts either."""
        return [stem(n) for n in re.findall(r"\bhow many ([a-z]+)", self.text.lower())]


SYNONYMS = {"eat": "feed", "food": "feed", "diet": "feed", "big": "large", "larg": "large", "size": "large",
            "colour": "color", "grey": "gray", "caterpillar": "larva", "larvae": "larva", "pupa": "chrysalis",
            "generation": "brood", "univoltine": "brood", "bivoltine": "brood", "multivoltine": "brood",
            "voltinism": "brood", "overwinter": "winter", "imitate": "mimic", "imitat": "mimic",
            "copy": "mimic", "copi": "mimic", "resemble": "mimic", "resembl": "mimic", "travel": "migrat",
            "hibernat": "winter", "hibernate": "winter", "call": "name", "poison": "toxic",
            "poisonous": "toxic", "toxin": "toxic", "distasteful": "toxic", "venomous": "toxic",
            "smell": "scent", "noise": "sound", "noises": "sound", "rotten": "rot", "decay": "rot",
            "decaying": "rot",
            "nocturnal": "day", "night": "day", "nighttime": "day", "afternoon": "day",
            "see-through": "transparent", "clear": "transparent",
            "daylight": "day", "daytime": "day", "diurnal": "day", "feeler": "antenna", "feelers": "antenna",
            "boy": "male", "girl": "female", "babies": "larva", "baby": "larva", "nickname": "name",
            "countryside": "habitat", "terrain": "habitat", "landscape": "habitat", "environment": "habitat",
            "nose": "snout", "beak": "snout", "top": "upperside", "tongue": "proboscis",
            "hold": "touch", "pick": "touch", "handl": "touch", "handle": "touch",
            "leaves": "leaf", "hidden": "hide", "hid": "hide", "shelter": "hide",
            "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight",
            "9": "nine", "10": "ten", "12": "twelve"}


# words that say only that species look alike, once a relation is asked for
_RELATION_WORDS = {"look", "resembl", "copy", "copi", "mimic", "imitat", "like"}


def _canon(term: str) -> str:
    """A term folded onto a canonical synonym and cut to its 5-letter stem prefix when longer."""
    term = SYNONYMS.get(term, term)
    return term[:5] if len(term) > 5 else term


_GROUP_AFTER = re.compile(r"\b(butterfl\w*|moths?|species)\b")


def _present(term: str, have: set[str]) -> bool:
    """Whether ``term`` (canonical) matches a sentence term: same prefix, or a short word's inflection."""
    if term in have:
        return True
    if len(term) >= 5:
        return False
    return any(h.startswith(term) and len(h) - len(term) <= 3 for h in have)


_DEFINE = re.compile(r"^\s*(?:what\s+(?:is|are|does|do)\s+(?:an?\s+|the\s+)?([a-z-]{4,})(?:\s+mean)?|"
                     r"(?:define|meaning of)\s+(?:an?\s+|the\s+)?([a-z-]{4,}))\s*[?.!]*\s*$")


# "Batesian vs Mullerian mimicry - what's the difference?", "difference between a chrysalis and a cocoon"
_TWO_TERMS = re.compile(r"\bdifferences? between (?:an? |the )?([a-z -]{3,40}?) and (?:an? |the )?"
                        r"([a-z -]{3,40}?)(?=\s*(?:[?.!,;:]|$|\b(?:is|are)\b))|"
                        r"^(?:an? |the )?([a-z-]{3,30}(?: [a-z-]{3,30})?) (?:vs|versus)\.? (?:an? |the )?"
                        r"([a-z-]{3,30}(?: [a-z-]{3,30})?)"
                        r"(?=\s*(?:[?.!,;:\-]|$|\b(?:pls|please|what|whats|explain)\b))")


def compared_terms(text: str) -> tuple[str, str] | None:
    """The two things a "difference between X and Y" / "X vs Y" question sets side by side, with a
    shared last word given to both ("Batesian vs Mullerian mimicry": batesian mimicry, mullerian
    mimicry)."""
    m = _TWO_TERMS.search(normalize(text).strip())
    if not m:
        return None
    a, b = (g.strip() for g in (m.groups()[:2] if m.group(1) else m.groups()[2:]))
    if " " not in a and " " in b:
        a = f"{a} {b.split()[-1]}"
    return a, b


# "how does the proboscis work", "what's the proboscis and how does it work?": the part's definition says
# what it is and how it works
_HOW_WORKS = re.compile(r"^\s*(?:(?:so |and |but )?what(?:'s|s| is| are) (?:an? |the )?([a-z-]{4,}) and )?"
                        r"how (?:does|do) (?:an? |the |its |their )?(it|they|[a-z-]{4,}) "
                        r"(?:actually |really )?work\b"
                        r"[^a-z]*(?:is it |are they )?")


def defined_term(text: str) -> str | None:
    """The word a "what is a X" / "what does X mean" / "how does the X work" question asks to have
    defined."""
    lower = text.lower()
    m = _DEFINE.match(lower)
    works = _HOW_WORKS.match(lower) if not m else None
    if works is not None:
        word = works.group(1) if works.group(2) in ("it", "they") else works.group(2)
        if works.group(1) and works.group(2) not in ("it", "they") or not word:
            return None
        return None if word in TOPIC_GENERIC or word in {"butterfly", "moth", "this", "that"} else word
    if not m:
        return None
    word = m.group(1) or m.group(2)
    return None if word in TOPIC_GENERIC or word in {"butterfly", "moth", "this", "that", "it"} else word


def single(chunk: Chunk, j: int) -> Chunk:
    """A one-sentence view of ``chunk``."""
    return replace(chunk, id=f"{chunk.id}#{j}", sentences=(chunk.sentences[j],))


def has_number(sentence: str) -> bool:
    """Whether a sentence states a quantity."""
    return any(t.isdigit() or t in NUMBER_WORDS or t in UNITS for t in tokens(sentence))


class Planner:
    """Scores sentences of retrieved chunks and builds the answer plan."""

    def __init__(self, index: ChatIndex, retriever: Retriever,
                 species_in: Callable[[str], list[str]] | None = None,
                 name_words: dict[str, set[str]] | None = None, ranker: Ranker | None = None) -> None:
        self.index = index
        self.ranker = ranker or rules()
        # stemmed words of every species' names, by label
        self.name_words = name_words or {}
        self.retriever = retriever
        self.chunk = {c.id: c for c in index.chunks}
        self._max_idf = max(index.bm25.idf.values(), default=1.0)
        # a sentence's terms include its section's title ("How scientists follow migrants")
        self._sent_terms = {c.id: [{_canon(t) for t in terms(f"{s} {c.section_title}")} for s in c.sentences]
                            for c in index.chunks}
        self._sent_words = {c.id: [set(tokens(s)) | {stem(w) for w in tokens(s)} for s in c.sentences]
                            for c in index.chunks}
        self._normalized = {c.id: [normalize(s) for s in c.sentences] for c in index.chunks}
        # the other species each sentence names: a relation ("which moth looks like it?") is answered
        # by a sentence that names one, or by a similar-species passage
        self._topics = sorted({c.entry for c in index.chunks if c.entry_kind == "topic"})
        find = species_in or (lambda _text: [])
        self._others = {c.id: [[x for x in find(s) if x != c.entry] for s in c.sentences]
                        for c in index.chunks}

    # --- scoring ------------------------------------------------------------------------
    def _idf(self, term: str) -> float:
        return self.index.bm25.idf.get(term, self._max_idf)

    def lex(self, words: set[str], chunk: Chunk, j: int) -> float:
        """IDF-weighted share of ``words`` found in sentence ``j`` of ``chunk`` (5-letter prefixes);
        section cue words weigh less than the question's own content words."""
        if not words:
            return 0.0
        have = self._sent_terms[chunk.id][j]

        def weight(t: str) -> float:
            return self._idf(t) * (CUE_SHARE if t in CUE_TERMS else 1.0)

        den = sum(weight(t) for t in words)
        return sum(weight(t) for t in words if _present(_canon(t), have)) / den

    def cue_hit(self, chunk: Chunk, j: int, sections: list[str]) -> bool:
        """Whether sentence ``j`` carries a tell-tale word of one of ``sections``."""
        cues = set().union(*(STRONG_CUES.get(s, set()) for s in sections)) if sections else set()
        return bool(cues & self._sent_words[chunk.id][j])

    def sem(self, q: Query, chunk: Chunk, j: int) -> float:
        """Cosine similarity of the question to sentence ``j`` of ``chunk`` (0 without sentence vectors)."""
        if q.sims is None:
            return 0.0
        return float(q.sims[self.index.sentence_start[chunk.id] + j])

    def semantic_pick(self, q: Query, hits) -> tuple[str, int] | None:  # noqa: ANN001
        """The sentence of the hit chunks whose meaning is clearly closest to the question, if one is."""
        if q.sims is None:
            return None
        scored = sorted(((self.sem(q, c, j), c.id, j) for c in (self.index.chunks[h.idx] for h in hits)
                         if c.section not in SEM_SKIP for j in range(len(c.sentences))), reverse=True)
        if len(scored) < 2 or scored[0][0] - scored[1][0] < SEM_MARGIN:
            return None
        return scored[0][1], scored[0][2]

    def features(self, q: Query, h, chunk: Chunk, j: int, specific: list[str]) -> list[float]:  # noqa: ANN001
        """Feature row of sentence ``j`` of hit ``h`` (order of ``rank.FEATURES``)."""
        sentence = chunk.sentences[j]
        return [h.score,
                self.lex(q.lex_words, chunk, j),
                self.sem(q, chunk, j),
                float(bool(specific) and chunk.section not in specific and self.cue_hit(chunk, j, specific)),
                float(q.quantity and has_number(sentence)),
                float(bool(q.asks) and answers_ask(sentence, q.asks)),
                float("relation" in q.asks and self.relates(chunk, j)),
                float(chunk.section in q.wanted),
                self.lex(q.content, chunk, j),
                float(q.pick == (chunk.id, j)),
                float(j == 0),
                float(chunk.section in SPECIFIC_SKIP),
                float(chunk.entry_kind == "topic")]

    def candidates(self, q: Query, hits) -> tuple[list[tuple[Chunk, int]], np.ndarray]:  # noqa: ANN001
        """Every sentence of the hit chunks, with its feature matrix."""
        specific = [s for s in q.wanted if s not in SPECIFIC_SKIP]
        items: list[tuple[Chunk, int]] = []
        rows: list[list[float]] = []
        for h in hits:
            chunk = self.index.chunks[h.idx]
            for j in range(len(chunk.sentences)):
                items.append((chunk, j))
                rows.append(self.features(q, h, chunk, j, specific))
        return items, np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))

    def rank_sentences(self, q: Query, hits) -> list[tuple[float, Chunk, int]]:  # noqa: ANN001
        """Sentences of the hit chunks, best first, scored by the ranker's weighted features."""
        items, rows = self.candidates(q, hits)
        scores = self.ranker.score(rows)
        out = [(float(s), c, j) for s, (c, j) in zip(scores, items, strict=True)]
        out.sort(key=lambda x: -x[0])
        return out

    def counts(self, noun: str, chunk: Chunk, j: int) -> bool:
        """Whether sentence ``j`` puts a number right before ``noun`` ("up to 400 eggs", "two broods")."""
        toks = tokens(chunk.sentences[j])
        key = _canon(noun)
        for i, t in enumerate(toks):
            if _canon(stem(t)) == key and any(w.isdigit() or w in COUNT_WORDS for w in toks[max(0, i - 5):i]):
                return True
        return False

    def names_itself(self, chunk: Chunk, j: int) -> bool:
        """"Why is it called that?": a sentence that uses a word of the entry's name twice, once as the
        subject and once as a description ("a silvery mark shaped like a question mark")."""
        if chunk.section == "overview":
            return False  # "also known as Cinnabar" repeats the name without saying where it comes from
        words = [w for w in tokens(chunk.entry_title) if len(w) >= 4 and w not in NAME_GENERIC]
        said = tokens(chunk.sentences[j])
        return any(sum(1 for t in said if t.startswith(w[:5])) >= 2 for w in words)

    def relates(self, chunk: Chunk, j: int) -> bool:
        """Whether sentence ``j`` ties the entry to another species (names one, or compares with one)."""
        if chunk.section == "similar_species" or self._others[chunk.id][j]:
            return True
        # ("female great eggflies resemble distasteful crow butterflies": a group the guide has no entry for)
        m = ASKS["relation"][1].search(chunk.sentences[j].lower())
        return m is not None and bool(_GROUP_AFTER.search(chunk.sentences[j].lower(), m.end()))

    def fits(self, q: Query, chunk: Chunk, j: int) -> bool:
        """Whether sentence ``j`` is of the form the question's ask needs, whatever it means: a name for
        "what is it called", a number for "how many", the asked life stage, food for "what does it eat",
        a classification for "is it a moth". A sentence that fails here never answers."""
        sentence = chunk.sentences[j]
        why = q.why
        if "kind" in q.asks:
            return answers_ask(sentence, ["kind"])
        if "predator" in q.asks and not why:
            return answers_ask(sentence, ["predator"])
        # "what do people call its caterpillar": only a sentence that gives a name answers, never
        # whatever the caterpillar section says first
        if (("name" in q.asks or "scientific" in q.asks) and not why
                and not ("origin" in q.asks or "author" in q.asks)
                and not answers_ask(sentence, ["name", "scientific"])
                and chunk.section != "overview"):
            return False
        if "author" in q.asks:
            return answers_ask(sentence, ["author"])
        if "origin" in q.asks:
            # an alias ("also known as Cinnabar") or the classification says nothing of where a name
            # comes from; the sentence must say it, or use the name as a description of the insect
            return chunk.section != "overview" and (
                answers_ask(sentence, ["origin"]) or self.names_itself(chunk, j))
        if ("season" in q.asks and not why and chunk.section not in set(q.wanted) - {"flight_period"}
                and not answers_ask(sentence, ["season"])):
            # "what months should we plan for": a sentence that names no month or season (one from another
            # section asked for still answers: "in which months and what habitat")
            return False
        if "resident" in q.asks and not why and not answers_ask(sentence, ["resident"]):
            return False  # "does it live here all year or fly in": only a sentence on its staying or coming
        if q.quantity and not has_number(sentence):
            return False
        said = set(tokens(q.text))
        # "why do monarch caterpillars only eat milkweed": the reason is what the food does for the
        # species, which the guide may say of the adult
        stage = None if why and FOOD_ASK & said else q.stage
        if (stage and not STAGES[stage] & self._sent_words[chunk.id][j]
                and chunk.section not in STAGE_SECTIONS[stage]):
            return False  # "what is the caterpillar called": a sentence about the adult does not answer
        eaten = bool({"defence", "predator"} & set(q.asks))  # "is it safe for birds to eat": it is the food
        if (FOOD_ASK & said and chunk.section not in FOOD_SECTIONS and not why and not eaten
                and not FOOD_SAY & self._sent_words[chunk.id][j]):
            return False  # "what does the comet moth caterpillar eat": a sentence about the caterpillar only
        if chunk.section in FOOD_SECTIONS and eaten and not answers_ask(chunk.sentences[j], q.asks):
            return False
        if (chunk.section in FOOD_SECTIONS and not (FOOD_ASK | FOOD_SAY) & said
                and any(s not in FOOD_SECTIONS for s in q.wanted)
                and not asks_food_plant(q.text.lower())
                and not ("bite" in q.asks and answers_ask(sentence, ["bite"]))):
            return False  # "what does the caterpillar look like": its food plants are no answer
        have = self._sent_terms[chunk.id][j]
        if q.counted and not any(_present(_canon(n), have) and self.counts(n, chunk, j) for n in q.counted):
            return False  # "how many eggs does it lay": a number must count the eggs
        units = QUANTITY_UNITS.get(q.measure or "")
        if units and not units & self._sent_words[chunk.id][j]:
            return False
        return not (q.asks_lifespan and not DURATION.search(sentence.lower()))  # a span of time

    def supported(self, q: Query, chunk: Chunk, j: int) -> bool:
        """Whether quoting sentence ``j`` of ``chunk`` actually answers ``q``."""
        if not self.fits(q, chunk, j):
            return False
        if q.counted and not q.why:
            return True  # "how many generations": a sentence that counts them (which fits checks) answers
        if q.asks_lifespan and q.pick == (chunk.id, j):
            return True  # "what is its lifespan": the sentence closest in meaning that gives a span of time
        if "kind" in q.asks or "author" in q.asks or "origin" in q.asks or (
                "predator" in q.asks and not q.why):
            return True  # the form of the sentence is the whole test for these asks
        # a "why" is answered by a reason, never by a description of what the question already says
        if q.why:
            if "name" in q.asks and self.names_itself(chunk, j):
                return True
            if not answers_ask(chunk.sentences[j], q.asks):
                return False
            # the reason must bear on the question's words (not any reason the entry gives): its own
            # words when it has any the guide knows ("why ants ... caterpillars" wants the ants)
            # (the words of the clauses that ask: "2 peacocks sunning on nettles, 30 March. Why the big
            # eyespots?" asks about the eyespots, not the nettles)
            own = (q.asked_content if q.asked_residual else q.content) - q.foreign
            # ("why do so many butterflies look like it": "look" is the relation asked for, which the
            # sentence's own ask has already shown)
            rest = ((q.asked_residual or set(q.residual))
                    - (_RELATION_WORDS if "relation" in q.asks else set()))
            return self.lex(own or rest, chunk, j) > 0 if (own or rest) else True
        if "relation" in q.asks and asks_for_other(q.text):
            return self.relates(chunk, j)
        # "the genome size": a word the guide never uses is what is asked about; a sentence that shares
        # none of the question's own words only matches its section ("size"), not the question
        # (unless the sentence clearly means what is asked: "noise" is no guide word, "hissing sound" is)
        picked = q.pick == (chunk.id, j)
        # (words for the visitor's own class or town are context: "do we get it in veracruz")
        if q.foreign - q.context and not picked and self.lex(q.content, chunk, j) == 0 and not (
                q.asks and answers_ask(chunk.sentences[j], q.asks)):
            return False
        units = QUANTITY_UNITS.get(q.measure or "")
        if units and q.measure in MEASURED and not (q.stage and chunk.section == "wingspan"):
            return True  # "how far does it fly": a distance in kilometres answers, whatever the section
        specific = [s for s in q.wanted if s not in SPECIFIC_SKIP]
        # the sentence that clearly means what is asked, unless the question names a section it is not
        # from ("when does it fly" is not answered by a description of its flight)
        if picked and (not specific or chunk.section in specific or self.cue_hit(chunk, j, specific)) and (
                len(q.residual) < 3 or self.lex(q.content, chunk, j) > 0):
            # (a question of several words of its own, none of which the sentence shares, is not
            # answered by a sentence that is merely close in meaning: "its resting heart rate")
            return True
        if q.asks and answers_ask(chunk.sentences[j], q.asks) and (
                not q.asked_content or self.lex(q.content, chunk, j) > 0
                or set(q.asks) & {"relation", "defence", "pest", "split", "bite", "sound", "resident"}):
            return True
        if specific and (chunk.section in specific or self.cue_hit(chunk, j, specific)):
            return True
        # "do they go for kale and brussels sprouts": a plant the question names that a food sentence
        # lists makes that sentence the answer, with no food word in the question
        # (a plant it was seen on is where it was, not what is asked: "could I see it on my buddleia")
        if not q.wanted and chunk.section in FOOD_SECTIONS and any(
                _present(_canon(t), self._sent_terms[chunk.id][j]) for t in q.asked_content - q.placed):
            return True
        # (the words of the clauses that ask: "I heard it's nearly a whole year" adds none)
        # (a clause that asks in words the guide never uses leaves the context's: "Is Astraptes fulgerator
        # truly one species? I read something about DNA barcodes")
        if self.lex(q.asked_content if q.asked_content - q.foreign else q.content, chunk, j) >= 0.5:
            return True
        return not specific and bool(q.wanted) and chunk.section in q.wanted

    # --- plans --------------------------------------------------------------------------
    def compare(self, a: str, b: str) -> Plan:
        plan = Plan()
        for x, y in ((a, b), (b, a)):
            chunk = self.chunk.get(f"{x}::similar_species:{y}")
            if chunk:
                plan.add(chunk, 2)
        if plan.parts:  # the guide's own how-to-tell text answers it; descriptions would only pad
            return plan
        for x in (a, b):
            chunk = self.chunk.get(f"{x}::identification")
            if chunk:
                plan.add(chunk, 2)
        return plan

    def mimicry(self, a: str, b: str) -> Plan:
        """The sentences of either entry that say one of ``a`` and ``b`` mimics the other ("the red-spotted
        purple is a mimic of the pipevine swallowtail"); an empty plan when the guide says none."""
        plan = Plan()
        for x, y in ((a, b), (b, a)):
            for chunk in self.index.chunks:
                if chunk.entry != x:
                    continue
                for j, sentence in enumerate(chunk.sentences):
                    if y in self._others[chunk.id][j] and MIMICRY.search(sentence.lower()):
                        plan.add(single(chunk, j), 1)
        return plan

    def kinship(self, a: str, b: str, by_descent: bool = False, mimicry: bool = False) -> Plan:
        """"Is the atlas moth related to the luna moth?": both classifications (family, genus) side by
        side, which say how close they are; "does the viceroy copy the monarch?" (``by_descent``
        False) takes the guide's own sentence on the mimicry first (``mimicry``), then its comparison
        of the two, when it has one."""
        if mimicry:
            plan = self.mimicry(a, b)
            if plan.parts:
                return plan
        if not by_descent:
            plan = self.compare(a, b)
            if any(c.section == "similar_species" for c, _ in plan.parts):
                return plan
        plan = Plan()
        for x in (a, b):
            chunk = self.chunk.get(f"{x}::overview")
            if chunk:
                plan.add(chunk, 1)
        return plan

    def summary(self, label: str) -> Plan:
        plan = Plan()
        for section, n in (("overview", 1), ("identification", 2), ("distribution", 1), ("facts", 1)):
            chunk = self.chunk.get(f"{label}::{section}")
            if chunk:
                plan.add(chunk, n)
        return plan

    def species(self, q: Query, vec: np.ndarray) -> Plan | None:
        """Plan for a question about ``q.targets``; ``None`` when the guide cannot support one."""
        if q.asked_business or VISIT.search(q.text.lower()):
            return None
        if (len(q.targets) >= 2 and (asks_relatives(q.text) or asks_same(q.text))
                and not set(q.asks) & {"reason"}):
            # "apollo vs clodius parnassian, how closely related": kinship, even in a comparison
            return self.kinship(q.targets[0], q.targets[1], by_descent=True)
        if q.intent.compare and len(q.targets) >= 2:
            return self.compare(q.targets[0], q.targets[1])
        if "relation" in q.asks and len(q.targets) >= 2 and not set(q.asks) & {"reason"}:
            return self.kinship(q.targets[0], q.targets[1], by_descent=asks_relatives(q.text),
                                mimicry=bool(MIMICRY.search(q.text.lower())))
        hits = self.retriever.search(vec, " ".join(q.residual), q.intent, entries=q.targets, k=64)
        if not hits:
            return None
        q.sims = self.index.sentence_sims(vec)
        q.pick = self.semantic_pick(q, hits)
        if q.compares and not (set(q.residual) & {"male", "female"}):
            plan = Plan()
            for h in hits:
                c = self.index.chunks[h.idx]
                if c.section == "similar_species":
                    plan.add(c, 2)
            if plan.parts:
                return plan
        overview = self.chunk.get(f"{q.targets[0]}::overview")
        if "kind" in q.asks and overview is not None:
            # "is the luna moth a butterfly?": its classification says, and nothing else is asked
            plan = Plan()
            plan.add(single(overview, 0), 1)
            return plan
        if not q.residual and not q.intent.sections:
            return self.summary(q.targets[0])
        ranked = self.rank_sentences(q, hits)
        if {"male", "female"} <= set(q.residual) and len(q.targets) == 1 and not q.why:
            # "compare the male and female of this species": how each sex looks, not a look-alike species
            sexes = self._sexes(ranked)
            if sexes is not None:
                return sexes
        best = next(((s, c, j) for s, c, j in ranked if self.supported(q, c, j)), None)
        if best is None and "reason" in q.asks:
            # a reason worded differently from the question ("why do birds avoid it" / "toxic ... warns
            # predators", "how does it avoid being eaten" / "distasteful to birds"): the best-ranked
            # sentence that gives a reason, when it ranks near the top
            top = ranked[0][0] if ranked else 0.0
            near = [(s, c, j) for s, c, j in ranked if s >= top - WHY_MARGIN
                    and answers_ask(c.sentences[j], ["reason"])]
            if len(q.targets) >= 2:
                # "how come viceroys look so much like monarchs": a reason that ties the two together
                near = [x for x in near if set(self._others[x[1].id][x[2]]) & set(q.targets)] or near
            best = near[0] if near else None
        if best is None:
            # nothing passes the rules, but one sentence of the entry means the question closely and shares
            # an asked word ("does the Cleopatra really survive the winter as a butterfly" / "spends the
            # winter as an adult butterfly")
            best = self._close_in_meaning(q, hits)
        if q.why and len(q.targets) == 1 and (
                best is None or not self.lex(q.asked_words, best[1], best[2])):
            # nothing in the entry gives the reason, or its reason bears on none of the asked words (a "why"
            # about two species asks how they relate, which a general habit does not say)
            general = self.habit(q, vec)
            if general is not None or best is None:
                return general
        if best is None:
            return None
        if "origin" in q.asks:
            # "why do the British call it the camberwell beauty": the sentence that explains the name
            # the question ends on, not another of its names
            best = next((x for x in ranked if x[1].section != "overview"
                         and explains_name(x[1].sentences[x[2]], q.asked_name)
                         and _NAME_REASON.search(x[1].sentences[x[2]].lower())), best)
        if q.why and not STRONG_REASON.search(best[1].sentences[best[2]].lower()):
            # "why are some females black": a sentence that only restates the question ("some females are
            # almost entirely black") gives way to a close one that states a reason outright ("mimics")
            # (never one that shares much less of the question's own words: "why do ants look after them";
            # "why does it look like a dead leaf underneath" / "camouflage, because it looks like a dead
            # leaf")
            own = self.lex(q.content, best[1], best[2])
            best = next(((s, c, j) for s, c, j in ranked if s >= best[0] - WHY_MARGIN
                         and STRONG_REASON.search(c.sentences[j].lower()) and self.supported(q, c, j)
                         and self.lex(q.content, c, j) >= min(own, WHY_KEEP_LEX)), best)
        plan = self._assemble(q, ranked, best)
        if _TWO_ASKS.search(q.text.lower()) and len(q.targets) == 1:
            # "little wood satyr in which months and what habitat": each asked section gets its best sentence
            said = {c.section for c, _ in plan.parts}
            other = next(((c, j) for s, c, j in ranked if c.section in q.wanted and c.section not in said
                          and c.section not in SPECIFIC_SKIP and self.supported(q, c, j)), None)
            if other is not None:
                plan.add(single(*other), 1)
        return plan

    def _sexes(self, ranked) -> Plan | None:  # noqa: ANN001
        """The best-ranked sentence on each sex (one that tells both serves for both), from the entry's own
        sections; ``None`` unless both sexes are told."""
        plan, told = Plan(), set[str]()
        for _, c, j in ranked:
            if c.section == "similar_species":
                continue
            said = {w.rstrip("s") for w in tokens(c.sentences[j])} & {"male", "female"}
            if said - told:
                plan.add(single(c, j), 1)
                told |= said
            if len(told) == 2:
                return plan
        return None

    def _closest(self, sims: np.ndarray, hits, keep: Callable[[Chunk], bool]  # noqa: ANN001
                 ) -> tuple[float, Chunk, int] | None:
        """``(similarity, chunk, sentence)`` of the sentence of the hit chunks kept by ``keep`` that ``sims``
        (one similarity per guide sentence) rates highest; ``None`` when no chunk is kept."""
        start = self.index.sentence_start
        return max(((float(sims[start[c.id] + j]), c, j) for c in (self.index.chunks[h.idx] for h in hits)
                    if keep(c) for j in range(len(c.sentences))), key=lambda x: x[0], default=None)

    def _close_in_meaning(self, q: Query, hits) -> tuple[float, Chunk, int] | None:  # noqa: ANN001
        """The hit sentence closest in meaning to ``q`` when it is very close (CLOSE_SIM), shares some of the
        asked words (CLOSE_LEX) and has the form the question needs (:meth:`fits`); else ``None``."""
        if q.sims is None:
            return None
        found = self._closest(q.sims, hits, lambda c: c.section not in SEM_SKIP)
        if found is None:
            return None
        sim, chunk, j = found
        if sim < CLOSE_SIM or self.lex(q.asked_words, chunk, j) < CLOSE_LEX or not self.fits(q, chunk, j):
            return None
        if q.why and not answers_ask(chunk.sentences[j], ["reason"]):
            return None  # "why is it reddish brown": a description close in meaning gives no reason
        return sim, chunk, j

    def habit(self, q: Query, vec: np.ndarray) -> Plan | None:
        """A topic sentence for a "why" about a species that explains what butterflies or moths in general
        do ("why were dozens of tiger swallowtails sitting on the wet mud"): it must hold most of the asked
        words (two at least) and be close to the question in meaning; ``None`` when no topic sentence does."""
        words = q.asked_words
        if not words or not self._topics:
            return None
        hits = self.retriever.search(vec, " ".join(sorted(words)), q.intent, entries=self._topics, k=12)
        for _, chunk, j in self.rank_sentences(q, hits):
            have = self._sent_terms[chunk.id][j]
            shared = sum(_present(_canon(w), have) for w in words)
            if shared >= 2 and self.fits(q, chunk, j) and (
                    (self.lex(words, chunk, j) >= TOPIC_SHARE and self.sem(q, chunk, j) >= HABIT_SIM)
                    or shared >= HABIT_WORDS):
                plan = Plan()
                plan.add(single(chunk, j), 1)
                return plan
        return None

    def definition(self, term: str) -> tuple[Chunk, int] | None:
        """The guide sentence that defines ``term`` ("a proboscis, a long tube ...", "a dormant state called
        diapause"), topic pages first."""
        t = re.escape(normalize(term))
        lead = re.compile(rf"^in {t}, ")  # "In Batesian mimicry, a harmless species copies ..."
        pattern = re.compile(rf"\b(called|known as|named) (an? |the )?{t}s?\b|"
                             rf"\b{t}s?, (an?|the|which) |\b{t}s? (is|are|means?) ")
        for rule in (lead, pattern):
            for kind in ("topic", "species"):
                for c in self.index.chunks:
                    if c.entry_kind != kind:
                        continue
                    for j, s in enumerate(self._normalized[c.id]):
                        if rule.search(s):
                            return c, j
        return None

    def pair_definitions(self, a: str, b: str) -> Plan | None:
        """"Batesian vs Mullerian mimicry": each term's definition; a term the guide does not define is read
        from a sentence beside the other's definition that names it ("... is called a chrysalis. Many moth
        caterpillars spin a silk cocoon ..."); ``None`` unless both are found."""
        found = [self.definition(a), self.definition(b)]
        known = next((f for f in found if f is not None), None)
        if known is None:
            return None
        chunk = known[0]
        for n, term in enumerate((a, b)):
            if found[n] is None:
                said = re.compile(rf"\b{re.escape(normalize(term))}s?\b")
                found[n] = next(((chunk, k) for k, s in enumerate(self._normalized[chunk.id])
                                 if said.search(s)), None)
        plan = Plan()
        for f in found:
            if f is None:
                return None
            plan.add(single(*f), 1)
        return plan

    def general(self, q: Query, vec: np.ndarray, name_like_unknown: bool) -> tuple[Plan | None, bool]:
        """Plan for a question with no species; returns ``(plan, off_topic)``."""
        if asks_moth_or_butterfly(q.text):
            # "new volunteer here - how do I tell a moth from a butterfly in the field?": the topic's
            # answer to that question, whatever context comes with it ("volunteer" is no topic word)
            q = replace(q, text=MOTH_OR_BUTTERFLY, residual=[])
            vec = self.retriever.embed(MOTH_OR_BUTTERFLY)
        pair = compared_terms(q.text)
        both = self.pair_definitions(*pair) if pair else None
        if both is not None:
            return both, False
        term = defined_term(q.text)
        found = self.definition(term) if term else None
        if found is not None:  # "whats a proboscis", "what does diapause mean"
            plan = Plan()
            plan.add(single(*found), 1)
            return plan, False
        on_domain = q.intent.on_domain or any(t in DOMAIN for t in q.residual)
        hits = self.retriever.search(vec, " ".join(sorted(q.content)), q.intent, entries=None, k=12,
                                     general=True)
        best_sim = max((h.dense for h in hits), default=0.0)
        if not on_domain and (best_sim < MIN_GENERAL_SIM + 0.1 or name_like_unknown):
            return None, True
        if (name_like_unknown or best_sim < MIN_GENERAL_SIM or q.asked_business
                or VISIT.search(q.text.lower())):
            return None, False
        ranked = self.rank_sentences(q, hits)
        best = ranked[0]
        said = set(tokens(q.text))
        if best[1].entry_kind == "species" and said & PLAIN_HEADS and not said & (GROUP_NOUNS - PLAIN_HEADS):
            # "how long does a butterfly stay in its chrysalis": a close topic sentence about butterflies in
            # general answers before one species' habit
            own = self.lex(q.content, best[1], best[2])
            best = next(((s, c, k) for s, c, k in ranked
                         if c.entry_kind == "topic" and s >= best[0] - TOPIC_MARGIN
                         and self.fits(q, c, k) and self.lex(q.content, c, k) >= own), best)
        if (q.content and best_sim < STRONG_SIM and self.lex(q.content, best[1], best[2]) < 0.34
                and not (q.asked_residual and self.lex(q.asked_residual, best[1], best[2]) >= 0.34)):
            # the top sentence shares too few of the question's words to answer it: a close topic sentence
            # that shares them answers instead ("why were they all sitting on the wet mud")
            # (of those, the best once shared words weigh more: "find their way" is the sun compass,
            # not the radar sentence ranked just above it)
            # (or its asked words: "we just moved into a house with a bare garden. what should I plant")
            close = [(s + SHARED_REWEIGH * lex, i) for i, (s, c, k) in enumerate(ranked)
                     if s >= best[0] - TOPIC_MARGIN and c.entry_kind == "topic" and self.fits(q, c, k)
                     and ((lex := self.lex(q.content, c, k)) >= 0.34
                          or bool(q.asked_residual) and self.lex(q.asked_residual, c, k) >= 0.34)]
            if close:  # (the first of equals, in ranked order)
                best = ranked[max(close, key=lambda x: x[0])[1]]
        # a topic sentence that means the question clearly ("is it ok to hold a butterfly by the wings" /
        # "touching butterfly wings rubs off the tiny scales") answers it, though it shares few words
        meant = self._meant_topic(q, vec, hits, best)
        if meant is not None:
            return self._assemble(q, ranked, meant), False
        top_score, chunk, j = best
        if chunk.entry_kind == "species" and not on_domain and q.content and q.content <= self.name_words.get(
                chunk.entry, set()):
            # "what do hummingbirds eat": a word of a species' name ("hummingbird clearwing") alone does
            # not make a question about that species, let alone about butterflies
            return None, True
        if q.quantity and not has_number(chunk.sentences[j]):
            return None, False
        # the question's own words must show up in the answer, unless the meaning clearly matches (the
        # words of the clauses that ask: "my daughter keeps mixing them up" is context)
        # (a topic page close in meaning needs fewer of the asked words: "what nectar flowers should I grow
        # to bring butterflies in" shares "nectar" and "flowers" with the gardening page)
        asked = q.asked_residual or q.content
        need = TOPIC_LEX if chunk.entry_kind == "topic" and best_sim >= TOPIC_SIM else 0.34
        if q.content and self.lex(q.content, chunk, j) < 0.34 and not (
                asked and self.lex(asked, chunk, j) >= need) and best_sim < STRONG_SIM:
            return None, False
        return self._assemble(q, ranked, best), False

    def _meant_topic(self, q: Query, vec: np.ndarray, hits, best) -> tuple[float, Chunk, int] | None:  # noqa: ANN001
        """The topic sentence of the hit chunks closest in meaning to a general question, when it is close
        (GENERAL_MEANT_SIM) and clearly closer than the ranked best (by GENERAL_MEANT_LEAD)."""
        sims = self.index.sentence_sims(vec)
        if sims is None:
            return None
        found = self._closest(sims, hits, lambda c: c.entry_kind == "topic")
        if found is None:
            return None
        sim, chunk, k = found
        best_sim = float(sims[self.index.sentence_start[best[1].id] + best[2]])
        if sim < GENERAL_MEANT_SIM or sim - best_sim < GENERAL_MEANT_LEAD or not self.fits(q, chunk, k):
            return None
        # a ranked best that carries most of the question's words, and more of them, stays: "how do they
        # find their way" is answered by the sun compass, not by the closer "why they migrate"
        own = self.lex(q.content, best[1], best[2])
        if best[1].entry_kind == "topic" and own >= GENERAL_KEEP_LEX and own > self.lex(q.content, chunk, k):
            return None
        return sim, chunk, k

    @staticmethod
    def _specific_food(q: Query) -> bool:
        """Whether the question names the life stage whose food it asks about."""
        words = set(tokens(q.text))
        return bool(words & {"caterpillar", "caterpillars", "caterpilar", "caterpilars", "larva", "larvae",
                             "adult", "adults", "host"})

    def _assemble(self, q: Query, ranked, best) -> Plan:  # noqa: ANN001
        text = q.text.lower()
        if (best[1].section not in ("distribution", "habitat") and _RANGE_ASK.search(text)
                and not _PLACE_KIND.search(text) and not q.asks and not q.quantity
                and {"distribution", "habitat"} & set(q.wanted)
                and self.lex(q.content - _RANGE_TERMS, best[1], best[2]) == 0):
            # "which countries can I see them in": the range answers, not a sentence that shares a word
            best = next(((s, c, k) for s, c, k in ranked
                         if c.section == "distribution" and c.entry == best[1].entry), best)
        if best[1].section == "distribution" and _PLACE_KIND.search(text):
            # "where do I look for them", "where do they hang out": the kind of place, not the range
            best = next(((s, c, k) for s, c, k in ranked
                         if c.section == "habitat" and c.entry == best[1].entry), best)
        if (best[1].section == "habitat" and not _PLACE_KIND.search(text)
                and (_WHERE.search(text) and self.lex(q.content, best[1], best[2]) == 0
                     or _RANGE_WORDS.search(text))):
            # "where does it live" asks for the range: the best range sentence answers it instead
            # ("where does it spend its time" keeps the habitat sentence that says so)
            best = next(((s, c, k) for s, c, k in ranked
                         if c.section == "distribution" and c.entry == best[1].entry), best)
        _, chunk, j = best
        plan = Plan()
        plan.add(single(chunk, j), 1)
        if chunk.entry_kind == "topic" and j + 1 < len(chunk.sentences):
            # a topic's lead sentence ("the antennae show the most reliable difference") is followed by
            # the one that spells it out, when that one goes on about the same thing
            lead = set(terms(chunk.sentences[j])) - TOPIC_GENERIC
            if lead & set(terms(chunk.sentences[j + 1])):
                plan.add(single(chunk, j + 1), 1)
        # more sentences of the same section only when they bear on the question too: a "facts" or
        # topic section mixes unrelated statements, so there a sentence must share the question's words
        # (the life cycle mixes eggs, caterpillars, pupae and winter: a second sentence must share words too)
        broad = (chunk.section in SPECIFIC_SKIP or chunk.section == "life_cycle"
                 or chunk.entry_kind == "topic" or bool(q.asks))
        # ("why is it called that" wants the origin of the name it ends on, not of another of its names)
        other_names_too = not explains_name(chunk.sentences[j], q.asked_name)
        for k in range(len(chunk.sentences)):
            if k == j or len(plan.parts) >= 3:
                continue
            if broad and "origin" in q.asks:
                # "why is it called that" does not want every reason the entry gives
                on_point = answers_ask(chunk.sentences[k], ["origin"]) and (
                    other_names_too or explains_name(chunk.sentences[k], q.asked_name))
            elif broad:
                on_point = self.lex(q.content, chunk, k) > 0 or (
                    bool(q.asks) and answers_ask(chunk.sentences[k], q.asks))
            else:
                on_point = chunk.section in q.wanted or self.lex(set(q.residual), chunk, k) > 0
            if on_point and q.quantity:
                on_point = self.fits(q, chunk, k)  # "how long does it live": only sentences giving a span
            if on_point:
                plan.add(single(chunk, k), 1)
        if chunk.section in ("distribution", "habitat") and _WHERE_TO_FIND.search(text):
            place = "habitat" if chunk.section == "distribution" else "distribution"
            other_place = self.chunk.get(f"{chunk.entry}::{place}")
            if other_place is not None:
                plan.add(single(other_place, 0), 1)
        other = PAIRS.get(chunk.section)
        # "what does it eat?" gets caterpillar and adult food; "what do caterpillars eat?" only the first
        if (other and ("food" in q.intent.sections or other in q.wanted) and not self._specific_food(q)
                and "predator" not in q.asks):
            extra = self.chunk.get(f"{chunk.entry}::{other}")
            if extra:
                plan.add(extra, 1)
        # a close runner-up from another chunk of the same kind (another entry's range, a second food
        # passage); a sentence on another topic would only pad the answer
        # (a question that names no species never gets a second species' sentence beside the first: the
        # runner-up would attribute the asked thing to a species nobody asked about)
        # ("which moth does the woolly bear turn into" asks for species, and may get two)
        same_entry = chunk.entry_kind == "species" and not q.targets and not _WHICH_SPECIES.search(text)
        runner = next(((s, c, k) for s, c, k in ranked
                       if c.id != chunk.id and c.section == chunk.section and self.supported(q, c, k)
                       and not (same_entry and c.entry != chunk.entry)), None)
        if runner and runner[0] >= best[0] - 0.01 and len(plan.parts) < 4:
            plan.add(single(runner[1], runner[2]), 1)
        for extra_label in q.targets[1:]:
            if extra_label in self._others[chunk.id][j]:
                continue  # the answer already ties the two together ("mimicry that protects both")
            other_chunk = self.chunk.get(f"{extra_label}::{chunk.section}")
            if other_chunk:
                plan.add(other_chunk, 1)
        return plan
