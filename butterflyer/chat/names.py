"""Species names the guide lacks, recognised by how names are built (not by a list of them).

The checklist (:mod:`butterflyer.chat.unknown`) knows particular names; this module knows
the *shape* of one: name words before a word that ends common names ("... birdwing",
"... fritillary", "... bluewing"), a possessive ("Lorquin's admiral"), or a binomial whose
genus is a known butterfly or moth genus ("Morpho menelaus"). A name phrase is a covered
species only when a guide name matches it as a whole: "queen" in "Queen Victoria's
birdwing", "zebra" in "zebra swallowtail", "blue morpho" in "Menelaus blue morpho" and
"peacock" in "giant peacock moth" (the peacock is a butterfly) are no match.

``find_unnamed(message, mentions, kinds, vocabulary)`` returns the first such phrase as an
:class:`~butterflyer.chat.unknown.Unknown` (token span and name), or ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from butterflyer.chat.describe import COLOURS
from butterflyer.chat.intent import GROUP_NOUNS, OTHER_ANIMALS
from butterflyer.chat.measure import ALIASES, REGIONS
from butterflyer.chat.text import STOPWORDS, clause_starts, hyphen_suffixes, normalize, stem, tokens
from butterflyer.chat.unknown import LIKENESS, Unknown

# Words that end the common names of particular groups (besides intent.GROUP_NOUNS).
_HEAD_TEXT = """
eggfly crow pansy jezebel sailer sailor sergeant baron lacewing jay mormon albatross emigrant wanderer
cruiser rajah pasha charaxes beauty sister cracker lady argus pierrot lineblue cerulean flat awl dart
skipperling hawkmoth hawk-moth sphinx underwing carpet pug footman ermine prominent eggar lappet looper
plume burnet forester silkmoth hornworm armyworm cutworm wood-nymph grayling arctic alpine marble
orangetip dogface yellow buckeye cattleheart kite apollo parnassian festoon sootywing cloudywing
flasher snout patroller leafwing daggerwing bluewing mapwing longwing glasswing clearwing tigerwing
worm
"""
# "monarch caterpillars" are the monarch's young, not another species
_YOUNG = {"caterpillar", "caterpillars", "larva", "larvae", "egg", "eggs", "pupa", "chrysalis", "cocoon"}
_ALL_HEADS = GROUP_NOUNS | set(_HEAD_TEXT.split())
HEADS = (_ALL_HEADS | {stem(w) for w in _ALL_HEADS}) - _YOUNG
# heads that end only particular names, not a broad group ("mormon", "jezebel"; not "swallowtail")
_SPECIFIC_HEADS = set(_HEAD_TEXT.split()) - GROUP_NOUNS
GENERIC = {"butterfly", "butterflies", "moth", "moths"}
_WING_PARTS = {"forewing", "hindwing", "forewings", "hindwings", "underwing"}
# Words that begin common names ("Southern festoon", "Lesser purple emperor", "Common jay").
_MODIFIER_TEXT = """
lesser greater great scarce false mock dwarf pygmy royal imperial regal common northern southern
eastern western central african asian american european mexican indian australian chinese japanese
malayan tropical desert mountain alpine arctic island golden
"""
NAME_MODIFIERS = set(_MODIFIER_TEXT.split())
# Before a covered name these qualify a population, not another species ("western monarchs").
_POPULATION = {"northern", "southern", "eastern", "western", "central", "common", "tropical",
               "mexican", "american", "african", "asian", "european", "indian", "australian",
               "golden"}
# Words that describe one butterfly seen, not a species ("my backyard swallowtail", "a huge morpho").
DESCRIPTIVE = {"big", "bigger", "biggest", "large", "larger", "largest", "small", "smaller", "smallest",
               "tiny", "little", "huge", "giant", "beautiful", "pretty", "lovely", "gorgeous", "male",
               "female",
               "adult", "young", "baby", "dead", "live", "living", "wild", "pet", "same", "first", "last",
               "other",
               "another", "backyard", "garden", "yard", "local", "native", "typical", "real", "fresh", "worn",
               "faded", "fluffy", "furry", "hairy", "colourful", "colorful", "rainbow", "shiny", "new",
               "favourite", "favorite", "rare", "famous", "whole", "entire", "true", "night", "day",
               "enormous", "massive", "gigantic", "humongous", "minute", "teeny", "tiniest", "mini",
               "proper", "actual", "regular", "normal", "ordinary", "weird", "strange", "odd", "funny",
               "cute", "amazing", "stunning", "cool", "awesome", "nice", "ugly", "scary", "creepy", "aussie",
               "brit", "yank", "bright", "vivid", "electric", "emerald", "dull", "plain", "fat", "skinny",
               "slim", "chunky", "long", "short", "thin", "thick", "narrow", "wide", "broad", "spiky",
               "spiny", "fuzzy", "stripy", "stripey", "spotty", "bristly", "woolly", "wooly",
               # when it flies ("a daytime moth hovering at my bee balm")
               "daytime", "nighttime", "nocturnal", "diurnal", "daylight"}
PLACES = {w for key in [*REGIONS, *ALIASES] for w in key.split()} | {
    p for places in REGIONS.values() for place in places for p in place.split()}
_PATTERN_ED = ("spotted", "banded", "veined", "tailed", "bordered", "striped", "barred", "washed", "studded",
               "edged", "tipped", "marked", "winged", "lined", "letter", "bordered", "eyed", "necked")
# Plants that species are named after ("poplar admiral", "oak hairstreak", "spicebush swallowtail"): a
# word the guide also uses (as a food plant) that still makes a different name before a group word.
_PLANT_TEXT = """
poplar aspen oak elm willow birch hickory walnut spicebush pawpaw hackberry apple citrus fig palm
cycad acacia mistletoe thistle nettle clover alfalfa cabbage mustard dogbane pipevine passion lupine
bramble blackthorn sloe juniper cedar pine fir spruce larch maple beech laurel myrtle rue fennel
parsley dill carrot sorrel dock bean pea vetch gorse broom hop hops grass sedge reed bamboo mangrove
coconut banana sugarcane rice corn cotton tobacco tomato potato thyme jasmine honeysuckle privet
rowan hawthorn buckthorn sumac senna cassia lantana hibiscus orchid tulip lily lime lemon cherry plum
heather ivy holly hazel ash elder sage mint tea coffee cocoa
"""
PLANTS = set(_PLANT_TEXT.split())
_COMPASS = {"north", "south", "east", "west", "central"}
_BREAK = {"versus", "vs", "than", "like", "called", "named", "say", "says", "said", "saw", "seen", "see",
          # words that count insects, never part of a name ("a bunch of male adonis blues")
          "bunch", "lot", "lots", "load", "loads", "group", "groups", "pair", "couple", "swarm", "swarms",
          "dozens", "hundreds", "thousands", "number", "flock", "cloud", "heaps",
          # who does something to a species ("why do allotment people hate cabbage whites")
          "people", "kids", "children",
          # words that talk about the question, never part of a name ("the reason male luna moths")
          "reason", "reasons", "point", "purpose", "difference", "question", "idea", "chance", "triggers",
          "trigger", "makes", "causes", "cause", "lets", "helps", "name", "names", "word", "calls", "call",
          "book", "books",
          # verbs of hearing, reading and believing ("I read polyphemus moth caterpillars ...")
          "read", "heard", "hear", "told", "tell", "think", "thought", "know", "knew", "believe", "guess",
          "reckon", "wonder", "wondering", "learned", "learnt", "taught", "show", "showed", "shown", "got",
          "found", "caught", "watched", "photographed", "had", "have", "has",
          # verbs of wanting ("Client wants Hyles lineata in a tattoo")
          "want", "wants", "wanted", "need", "needs", "ask", "asks", "asked", "love", "loves",
          "likes"}
_SUBJECTS = {"i", "we", "you", "they", "people", "kids", "children"}  # who does something to a named species
_FILLER = {"s", "of"}  # "Queen Alexandra's" -> queen alexandra s; "Queen of Spain"
MAX_RUN = 3

_GENERA_TEXT = """
ornithoptera troides trogonoptera papilio graphium parides battus eurytides protographium iphiclides
zerynthia parnassius danaus tirumala euploea amauris heliconius dryas agraulis dione speyeria argynnis
boloria euphydryas melitaea phyciodes chlosyne vanessa aglais nymphalis polygonia junonia precis
hypolimnas limenitis adelpha apatura charaxes morpho caligo prepona hamadryas marpesia siproeta anartia
kallima doleschallia ithomia pieris pontia colias gonepteryx anthocharis euchloe delias appias catopsilia
phoebis eurema lycaena polyommatus celastrina glaucopsyche maculinea phengaris callophrys satyrium thecla
strymon calycopis atlides eumaeus hesperia erynnis pyrgus thymelicus ochlodes urbanus epargyreus pholisora
carterocephalus maniola pararge coenonympha erebia melanargia pyronia aphantopus lasiommata hipparchia
cercyonis megisto satyrodes actias attacus archaeoattacus coscinocera antheraea hyalophora callosamia
automeris saturnia samia bombyx argema chrysiridia urania manduca acherontia deilephila daphnis hyles
macroglossum hemaris agrius smerinthus laothoe mimas biston lymantria cydia tineola zygaena tyria arctia
hypercompe spilosoma utetheisa callimorpha euplagia ascalapha thysania catocala noctua agrotis
helicoverpa spodoptera yponomeuta malacosoma thaumetopoea dryocampa opodiphthera eacles citheronia
rothschildia copaxa hemileuca cethosia idea parthenos euthalia lexias cyrestis polyura graphium greta
"""
GENERA = frozenset(_GENERA_TEXT.split())
_NOT_EPITHET = GENERIC | {"caterpillar", "caterpillars", "species", "genus", "family", "wing", "wings",
                          "group", "kind", "kinds", "type", "types"}


@dataclass(frozen=True)
class Span:
    """A covered-species mention: label and token span ``[start, end)``."""

    label: str
    start: int
    end: int


def names_an_insect(name: str) -> bool:
    """Whether a name phrase ends in a word that only butterfly and moth names end in ("clouded
    *yellow*", "purple *emperor*"): a question about it is on topic even with no other cue."""
    toks = tokens(name)
    return bool(toks) and _is_head(toks[-1])


def _is_head(word: str) -> bool:
    if word in _WING_PARTS:
        return False
    return word in HEADS or word in GENERIC or (word.endswith("wing") and len(word) >= 8)


def _capitalised(message: str) -> set[str]:
    """Words written with a capital inside a sentence ("the Menelaus blue morpho")."""
    found = re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+)", message.strip())
    return {normalize(m.group(1)) for m in found}


def _hyphen_patterns(message: str) -> set[str]:
    """Pattern compounds written with a hyphen ("pink-spotted", "silver-studded")."""
    return {m.group(2) for m in re.finditer(r"\b([a-z]+)-([a-z]+)\b", normalize(message))
            if m.group(2).startswith(_PATTERN_ED)}


def _shade_words(message: str) -> set[str]:
    """First parts of colour compounds written with a hyphen ("mahogany-brown", "lemon-yellow")."""
    pairs = re.finditer(r"\b([a-z]+)-([a-z]+)\b", normalize(message))
    return {m.group(1) for m in pairs if m.group(2) in COLOURS}


# words before a part of an insect, never before a species' name
_OWNERS = {"its", "their"}


class NameShapes:
    """Knows one guide's vocabulary and species kinds; finds name phrases it does not cover."""

    def __init__(self, kinds: Mapping[str, str], name_words: Mapping[str, Collection[str]],
                 vocabulary: Collection[str], genera: Collection[str] = (), epithets: Collection[str] = (),
                 english: Collection[str] = ()) -> None:
        self.kinds = dict(kinds)
        self.name_words = {k: set(v) for k, v in name_words.items()}
        self.name_vocab = {w for v in self.name_words.values() for w in v
                           if w not in STOPWORDS and w not in GENERIC and len(w) >= 4}
        self.vocabulary = set(vocabulary)
        self.genera = GENERA | {g.lower() for g in genera}
        # epithets the guide's prose uses ("Danaus chrysippus"): known words that are still epithets
        self.epithets = set(epithets)
        # English words: a plural noun ("farmers"), a verb after one ("gardeners hate") and an adverb
        # ("slowly") are never part of a name
        self.english = set(english)

    def _foreign_head(self, toks: Sequence[str], h: int) -> bool:
        """Whether ``toks[h]`` ends only particular names ("mormon", not "swallowtail"), no covered name
        holds it, and no description follows ("blue mormon", not "blue mormon-like" or "... with")."""
        word = toks[h]
        if word not in _SPECIFIC_HEADS or word in COLOURS or self._in_names(word):
            return False
        return not (h + 1 < len(toks) and toks[h + 1] in {"with", "like"})

    def _unpaired_colour(self, toks: Sequence[str], h: int) -> bool:
        """"gray cracker": a colour before a head that covered names hold ("red cracker") but never with
        that colour, and no description follows."""
        word, colour = toks[h], toks[h - 1] if h > 0 else ""
        if word not in _SPECIFIC_HEADS or word in COLOURS or colour not in COLOURS:
            return False  # ("cream yellow" is a colour)
        if h + 1 < len(toks) and toks[h + 1] in {"with", "like"}:
            return False
        holders = [ws for ws in self.name_words.values() if word in ws or stem(word) in ws]
        return bool(holders) and not any(colour in ws for ws in holders)

    def _in_names(self, word: str) -> bool:
        """Whether some covered species' name holds ``word`` ("admiral" in "red admiral")."""
        return any(word in words or stem(word) in words for words in self.name_words.values())

    def _known(self, word: str) -> bool:
        return word in self.vocabulary or stem(word) in self.vocabulary

    def _name_like(self, toks: Sequence[str], k: int, capital: set[str], hyphened: set[str],
                   shades: Collection[str] = ()) -> bool:
        """Whether token ``k`` reads as part of a proper name rather than as a description."""
        w = toks[k]
        if w in STOPWORDS or w in DESCRIPTIVE or w.isdigit() or len(w) < 3:
            return False
        if w in hyphened:
            return True  # "pink-spotted swallowtail"
        if w in shades:
            return False  # "mahogany-brown", "lemon-yellow": a shade of colour
        if w in COLOURS or w.endswith(("ish", "coloured", "colored")):
            return False
        possessive = k + 1 < len(toks) and toks[k + 1] == "s"
        if w in PLACES or (k > 0 and toks[k - 1] in _COMPASS):
            return False  # "a Florida swallowtail", "the north American swallowtails" say where
        if (len(w) > 3 and w.endswith("s") and not w.endswith("ss")
                and (w[:-1] in self.english or w in OTHER_ANIMALS) and not self._in_names(w)):
            return False  # a plural noun ("farmers hate cabbage whites", "do dragonflies eat butterflies")
        if w in NAME_MODIFIERS or w in capital or possessive:
            return True
        if len(w) >= 6 and w.endswith("est") and any(r in self.english
                                                     for r in (w[:-3], w[:-4], w[:-3] + "e")):
            return False  # a superlative: "the fastest flying moth" asks for one, it names none
        prev = toks[k - 1] if k > 0 else ""
        # ("i" only where it can be the subject: "why do i hate ...", not "kaiser-i-hind")
        subject = prev in _SUBJECTS and (prev != "i" or k < 2 or toks[k - 2] in STOPWORDS)
        if subject or (len(prev) > 3 and prev.endswith("s") and not prev.endswith("ss")
                       and (prev in self.english or prev[:-1] in self.english or prev in OTHER_ANIMALS)):
            return False  # a verb after its subject: "gardeners hate cabbage whites", "ants babysit ..."
        return not self._known(w) and not w.endswith(("ing", "ed", "ly"))

    def find(self, message: str, mentions: Sequence[Span]) -> Unknown | None:
        """The first name phrase in ``message`` that no covered name matches as a whole; a name that
        starts inside a hyphenated compound takes the whole compound ("kaiser-i-hind butterfly")."""
        found = self._find(message, mentions)
        if found is None:
            return None
        toks = tokens(message)
        for m in re.finditer(r"\b[a-z]+(?:-[a-z]+)+\b", normalize(message)):
            parts = m.group(0).split("-")
            for s in range(len(toks) - len(parts) + 1):
                if toks[s:s + len(parts)] == parts and s < found.start < s + len(parts):
                    return Unknown(" ".join(toks[s:found.end]).replace(" ".join(parts), m.group(0)),
                                   s, found.end)
        return found

    def _find(self, message: str, mentions: Sequence[Span]) -> Unknown | None:
        toks = tokens(message)
        capital = _capitalised(message)
        hyphened = _hyphen_patterns(message)
        shades = _shade_words(message)
        breaks = clause_starts(message)
        owner = {k: m for m in mentions for k in range(m.start, m.end)}
        likeness = hyphen_suffixes(message, LIKENESS)
        found = self._binomial(toks, owner)
        if found is not None:
            return found
        for h, word in enumerate(toks):
            m = owner.get(h)
            if m is not None:
                if h == m.end - 1:
                    found = self._before_covered(toks, m, owner, capital, hyphened, breaks, shades)
                    if found is not None:
                        return found
                continue
            if not _is_head(word) and word not in _YOUNG or h + 1 in likeness:
                continue  # ("a swallowtail-shaped butterfly": a likeness, not a name)
            found = self._before_head(toks, h, owner, capital, hyphened, breaks, shades)
            if found is not None:
                return found
        return None

    def _adverb(self, word: str) -> bool:
        """"slowly", "mostly": an adverb made from an English word (of six letters or more: not "holly")."""
        return len(word) >= 6 and word.endswith("ly") and word[:-2] in self.english

    def _run(self, toks: Sequence[str], end: int, owner: Mapping[int, Span], breaks: Collection[int]) -> int:
        """Start of the run of name words (at most ``MAX_RUN``; "of" and a possessive's "s" free) that
        ends just before ``end``; a run never crosses a clause mark ("quick question - painted lady")."""
        start, words, k = end, 0, end - 1
        while k >= 0 and words < MAX_RUN and k + 1 not in breaks:
            w = toks[k]
            if w in _FILLER:
                if k > 0 and toks[k - 1] not in STOPWORDS and k < end - 1 or (w == "s" and k > 0):
                    k -= 1
                    continue
                break
            if (w in STOPWORDS or w in GENERIC or w in _BREAK or w in _YOUNG or w.isdigit()
                    or (_is_head(w) and k not in owner) or self._adverb(w)):
                break  # (nor a life stage: "cinnabar caterpillars striped yellow", nor "floating slowly",
                # nor a count: "count 20 clouded sulphurs")
            start, words, k = k, words + 1, k - 1
        return start

    def _before_covered(self, toks: Sequence[str], m: Span, owner: Mapping[int, Span], capital: set[str],
                        hyphened: set[str], breaks: Collection[int], shades: Collection[str] = ()
                        ) -> Unknown | None:
        """"Menelaus blue morpho", "lesser purple emperor" (a longer name ending in a covered one), and
        "giant peacock moth" (a butterfly's name with "moth")."""
        start = self._run(toks, m.start, owner, breaks)
        before = m.start - 1
        if (start == m.start and before >= 0 and before not in owner and m.start not in breaks
                and toks[before] in _SPECIFIC_HEADS and toks[before] not in COLOURS | DESCRIPTIVE
                and not self._in_names(toks[before])):
            # "Mormon metalmark": a word that ends other species' names, before a covered name that
            # lacks it, makes a longer name (the run of name words stops at such a word)
            return Unknown(" ".join(toks[before:m.end]), before, m.end)
        extra = [k for k in range(start, m.start) if k not in owner and toks[k] not in _FILLER]
        strong = [k for k in extra
                  if toks[k] not in _POPULATION and self._name_like(toks, k, capital, hyphened, shades)]
        # the name words join the covered name without a gap: in "why ppl keep thinking hummingbird hawk
        # moth is a bird", "thinking" is no name word, so "ppl" is none either
        joined = m.start
        for k in range(m.start - 1, start - 1, -1):
            if k in strong:
                joined = k
            elif k in extra:
                break
        strong = [k for k in strong if k >= joined]
        head_after = m.end < len(toks) and toks[m.end] in GENERIC
        if strong:
            first = min(strong)
            end = m.end + (1 if head_after else 0)
            return Unknown(" ".join(toks[first:end]), first, end)
        if head_after:
            said = "moth" if toks[m.end].startswith("moth") else "butterfly"
            if self.kinds.get(m.label, said) != said and said not in self.name_words.get(m.label, set()):
                first = min(extra, default=m.start)
                return Unknown(" ".join(toks[first:m.end + 1]), first, m.end + 1)
        return None

    def _before_head(self, toks: Sequence[str], h: int, owner: Mapping[int, Span], capital: set[str],
                     hyphened: set[str], breaks: Collection[int], shades: Collection[str] = ()
                     ) -> Unknown | None:
        """"Mexican bluewing", "Queen Victoria's birdwing", "zebra swallowtail": name words before a
        group word that is not part of any covered name."""
        start = self._run(toks, h, owner, breaks)
        if toks[h] in _YOUNG and h > 0 and toks[h - 1].endswith(("ing", "ed")):
            return None  # "wingtips laying eggs": what it does, not a name
        if toks[h] in COLOURS and h + 1 < len(toks) and toks[h + 1] in ("one", "ones"):
            return None  # "the glittery blue one": a colour said of it
        if start > 0 and toks[start - 1] in _OWNERS and start not in breaks:
            return None  # "why does the garden tiger flash its red underwings": a part of it, not a name
        if (toks[h] in COLOURS and h >= 2 and toks[h - 1] == "s" and self._known(toks[h - 2])
                and toks[h - 2] not in capital):
            return None  # "a morpho's blue": the colour of something, not "Boisduval's blue"
        if start == h:
            bare = toks[h - 1] if h > 0 and h not in breaks else ""
            # "buckeye caterpillars": a group word the guide never uses names a species on its own
            if (toks[h] in GENERIC | _YOUNG and _is_head(bare) and not self._known(bare)
                    and h - 1 not in owner):
                return Unknown(f"{bare} {toks[h]}", h - 1, h + 1)
            # "blue mormon": a colour that is also a group word, before a group word no covered name holds
            if bare in COLOURS and h - 1 not in owner and (self._foreign_head(toks, h)
                                                           or self._unpaired_colour(toks, h)):
                return Unknown(f"{bare} {toks[h]}", h - 1, h + 1)
            return None
        inside = [k for k in range(start, h) if toks[k] not in _FILLER]
        covered = [k for k in inside if k in owner]
        generic = toks[h] in GENERIC or toks[h] in _YOUNG
        if covered:
            if generic:
                return None  # "red postman butterflies", "luna moth" (handled as a covered name)
            m = owner[covered[-1]]
            own = self.name_words.get(m.label, set())
            if toks[h] in own or stem(toks[h]) in own:
                return None
            if toks[h] in COLOURS and covered[-1] == h - 1:
                return None  # "is the monarch yellow underneath": a colour said of it, not a name
            first = min(inside)
            return Unknown(" ".join(toks[first:h + 1]), first, h + 1)
        if generic:
            # "codling moth", "Cecropia moth": a word the guide never uses before butterfly/moth
            named = [k for k in inside
                     if not self._known(toks[k]) and self._name_like(toks, k, capital, hyphened, shades)]
            if not named and len(inside) >= 2 and toks[inside[0]] in NAME_MODIFIERS and all(
                    self._known(toks[k]) and toks[k] not in DESCRIPTIVE | COLOURS for k in inside[1:]):
                named = [inside[0]]  # "african moon moth": a region before a group name no entry has
        else:
            # "zebra blue": a word of a covered name ("Zebra longwing") before another group word;
            # "poplar admiral": a plant before a group word; "blue mormon": a colour before a group word
            # that no covered name holds (a description would go on: "blue mormon with ...")
            foreign_head = self._foreign_head(toks, h) or self._unpaired_colour(toks, h)
            named = [k for k in inside if self._name_like(toks, k, capital, hyphened, shades)
                     or (toks[k] in self.name_vocab and toks[k] not in COLOURS | DESCRIPTIVE
                         and not (k > 0 and toks[k - 1] in _COMPASS))
                     or (toks[k] in PLANTS and toks[h] not in COLOURS
                         and not (k + 1 < h and toks[k + 1] in COLOURS))  # "lime green" is a colour
                     or (foreign_head and toks[k] in COLOURS and k == h - 1)]
        if not named:
            return None
        first = min(named)
        if first - 1 in inside and toks[first] in hyphened:
            first -= 1  # "pink-spotted swallowtail", not "spotted swallowtail"
        elif first - 1 in inside and toks[first - 1] in PLANTS and first - 1 not in owner:
            first -= 1  # "pine processionary caterpillars": a plant that starts the name is part of it
        return Unknown(" ".join(toks[first:h + 1]), first, h + 1)

    def _binomial(self, toks: Sequence[str], owner: Mapping[int, Span]) -> Unknown | None:
        """"Morpho menelaus", "Papilio machaon": a known genus and an epithet no covered name has
        ("Polygonia c-album": a hyphenated epithet is one)."""
        for i in range(len(toks) - 2):
            if (toks[i] in self.genera and i not in owner and len(toks[i + 1]) == 1 and toks[i + 1].isalpha()
                    and toks[i + 1] != "s"):  # ("a morpho's blue" is a possessive)
                return Unknown(f"{toks[i]} {toks[i + 1]}-{toks[i + 2]}", i, i + 3)
        for i in range(len(toks) - 1):
            genus, epithet = toks[i], toks[i + 1]
            m = owner.get(i + 1)
            if (genus in self.genera and i not in owner and m is not None and m.start == i + 1
                    and genus not in self.name_words.get(m.label, set())):
                return Unknown(f"{genus} {epithet}", i, i + 2)  # "morpho polyphemus" is no polyphemus moth
            if genus not in self.genera or i in owner or i + 1 in owner:
                continue
            if epithet in STOPWORDS or epithet in _NOT_EPITHET or _is_head(epithet) or len(epithet) < 3:
                continue
            if not epithet.isalpha() or (self._known(epithet) and epithet not in self.epithets):
                continue  # "are heliconius poisonous": an ordinary word, not an epithet
            return Unknown(f"{genus} {epithet}", i, i + 2)
        return None


_GENUS_ENDS = ("us", "a", "is", "es", "ia", "ops", "ides", "ura", "era", "ella", "ina", "ona", "ana", "ix",
               "on", "ys", "as")
_EPITHET_ENDS = ("a", "us", "is", "i", "ae", "um", "ana", "ensis", "ii", "oides", "ata", "ella", "ina", "ops",
                 "ax", "on", "es", "or", "ix")


def latin_pair(message: str, vocabulary: Collection[str]) -> Unknown | None:
    """"bicyclus anynana": two adjacent words the guide never uses, shaped like a genus and an epithet.
    Read only from a message already being refused as off topic, so that the refusal can name it."""
    toks = tokens(message)
    for i in range(len(toks) - 1):
        genus, epithet = toks[i], toks[i + 1]
        if not (genus.isalpha() and epithet.isalpha() and len(genus) >= 5 and len(epithet) >= 4):
            continue
        if any(w in vocabulary or stem(w) in vocabulary or w in STOPWORDS for w in (genus, epithet)):
            continue
        if genus.endswith(_GENUS_ENDS) and epithet.endswith(_EPITHET_ENDS):
            return Unknown(f"{genus} {epithet}", i, i + 2)
    return None


def guide_epithets(texts: Iterable[str]) -> set[str]:
    """Epithets of the binomials a guide's prose writes ("Danaus chrysippus" -> chrysippus)."""
    out = set()
    for text in texts:
        for m in re.finditer(r"\b([A-Z][a-z]+) ([a-z]{3,})\b", text):
            if m.group(1).lower() in GENERA:
                out.add(m.group(2))
    return out
