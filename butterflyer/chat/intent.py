"""What a question asks for: which sections of an entry, whether it compares, whether it is on topic.

Cue words are matched on stemmed content terms and on raw phrases. They only steer
ranking and the choice of sections; the text of every answer still comes from the
guide, and a question whose cues point at a section the entry lacks is declined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from butterflyer.chat.text import normalize, stem

# section -> (single-word cues, phrase cues). Words are stemmed before matching.
_CUES: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "larval_host_plants": ({"caterpillar", "larva", "larvae", "larval", "host", "hostplant", "foodplant"},
                           ("food plant", "lay eggs on", "lays eggs on", "lay its eggs on",
                            "lay their eggs")),
    "adult_food": ({"nectar", "drink", "sip", "puddl", "puddle", "flower", "fond"},
                   ("adult eat", "adults eat", "adult feed", "adults feed", "adult food", "flowers do",
                    "which flowers", "what flowers", "visit flowers")),
    "food": ({"eat", "feed", "food", "diet"}, ()),
    "wingspan": ({"wingspan", "big", "large", "small", "size", "wide", "mm", "millimetre", "millimeter",
                  "centimetre", "cm", "inch", "span", "larg", "bigg", "tiny"},
                 ("how long are", "wing span")),
    "distribution": ({"where", "distribution", "range", "native", "countri", "country", "continent",
                      "region", "occur", "found", "world", "everywhere", "anywhere", "elsewhere", "worldwide",
                      "widespread", "cosmopolitan"},
                     ("see it here", "see one here", "see them here", "likely to see", "chance of seeing",
                      "in my area", "around here", "near me", "in my country", "in my state", "get it in",
                      "get them in", "find it in", "find them in", "see it in", "see them in")),
    "habitat": ({"habitat", "environment", "live", "lives", "forest", "meadow", "grassland", "place",
                 "places"},
                ("what kind of place", "type of place", "sort of place", "kind of places")),
    "flight_period": ({"when", "season", "month", "flight", "fly", "brood", "summer", "spring",
                       "autumn", "winter"}, ("time of year", "on the wing", "flight period", "what months")),
    "life_cycle": ({"egg", "pupa", "pupae", "chrysalis", "cocoon", "overwinter", "hibernat", "generation",
                    "metamorphosi", "lifecycle", "lifespan", "develop", "grow", "winter"},
                   ("life cycle", "how long do", "how long does", "how long can", "live for",
                    "spend the winter", "survive the winter", "the winter", "winter as", "survive a cold",
                    "survive cold", "survive winter", "survive a winter", "survive the cold",
                    "survive freezing")),
    "conservation_status": ({"endangered", "endanger", "threaten", "threatened", "protect", "protected",
                             "conservation", "status", "iucn", "extinct", "declin", "vulnerable", "rare",
                             "risk", "law", "legal"}, ()),
    "identification": ({"identify", "recogni", "recognis", "recogniz", "look", "colour", "color", "mark",
                        "marking", "pattern", "spot", "appearance", "describe", "stripe", "band", "underside",
                        "upperside", "tail", "eyespot", "male", "female", "wings", "boy", "girl"},
                       ("look like", "field mark")),
    "similar_species": ({"apart", "difference", "differ", "distinguish", "versus", "vs", "confus", "confuse",
                         "similar", "mistake", "compare", "resemble", "lookalike"},
                        ("tell the", "tell a", "tell it from", "from a", "from the")),
    "overview": ({"family", "genus", "subfamily", "scientific", "latin", "binomial", "taxonomy", "classif",
                  "classified", "name", "called", "call", "belong"},
                 ("also known", "is it a moth", "is it a butterfly", "moth or a butterfly",
                  "butterfly or a moth", "a moth or", "a butterfly or")),
    "facts": ({"interesting", "fact", "fun", "special", "notable", "unusual", "famous", "known", "trivia"},
              ("tell me about", "what is special", "why", "why is", "why does", "why do", "why are")),
}

# Truncated cues that match any word they begin ("recogni" -> recognise, recognize, recognition).
PREFIX_CUES = {"recogni", "hibernat", "metamorphosi", "classif", "declin", "puddl", "confus", "endanger",
               "threaten", "protect", "identif", "distinguish", "migrat", "overwinter"}

# Words that make a message clearly about butterflies and moths.
_DOMAIN_TEXT = """
butterfly butterflies moth moths caterpillar caterpillars larva larvae pupa chrysalis cocoon wing wings
wingspan nectar lepidoptera insect insects milkweed metamorphosis migration migrate migrant migrants
migratory mimicry swallowtail hornworm hornworms
skipper hairstreak birdwing admiral sulphur white blue copper fritillary host plant eggs antenna antennae
proboscis scales pollinator garden photograph photo photographing camera species entomology
eyespot eyespots instar instars diapause pupate pupates pupation inchworm inchworms silkworm silkworms
lepidopterist lepidopterists overwinter hibernate hibernating hindwing hindwings forewing forewings
underwing underwings tongue
"""
DOMAIN = {stem(w) for w in _DOMAIN_TEXT.split()}

# Other animals: a question about one of them, with no butterfly or moth in it, is off topic even
# when it shares a cue word with the guide ("how do honeybees turn nectar into honey").
_OTHER_ANIMALS_TEXT = """
bee bees honeybee honeybees bumblebee bumblebees wasp wasps hornet hornets beetle beetles ladybird ladybirds
ladybug ladybugs dragonfly dragonflies damselfly damselflies grasshopper grasshoppers cricket crickets
mosquito mosquitoes mosquitos cockroach cockroaches termite termites spider spiders scorpion scorpions
firefly fireflies glowworm glowworms aphid aphids ant ants flea fleas housefly houseflies cicada cicadas
hummingbird hummingbirds bird birds bat bats frog frogs toad toads snake snakes lizard lizards fish
cat cats dog dogs horse horses cow cows hamster hamsters rabbit rabbits squirrel squirrels
butterflyfish butterflyfishes shark sharks whale whales dolphin dolphins turtle turtles octopus crab crabs
monkey monkeys lion lions parrot parrots penguin penguins snail snails earthworm earthworms zebras giraffes
caddisfly caddisflies mayfly mayflies stonefly stoneflies sawfly sawflies hoverfly hoverflies cranefly
craneflies lacewings peacocks peahen peahens finch finches flycatcher flycatchers
silverfish woodlouse woodlice earwig earwigs centipede centipedes millipede millipedes weevil weevils mite
mites louse lice bedbug bedbugs locust locusts mantis mantises mantids planthopper planthoppers leafhopper
leafhoppers whitefly whiteflies mealybug mealybugs
"""
OTHER_ANIMALS = set(_OTHER_ANIMALS_TEXT.split())
_LEPIDOPTERA = {"butterfly", "butterflies", "moth", "moths", "caterpillar", "caterpillars", "larva",
                "larvae", "pupa", "pupae", "chrysalis", "chrysalises", "cocoon", "cocoons",
                "lepidoptera", "lepidopteran"}


# Every single-word cue, stemmed: a question word that names what is asked, never a foreign word.
CUE_WORDS = {stem(w) for words, _ in _CUES.values() for w in words}

# Words that, found in a sentence of another section, show it answers a question about this section.
STRONG_CUES: dict[str, set[str]] = {
    "wingspan": {"wingspan", "mm", "millimetre", "centimetre", "cm", "span"},
    "conservation_status": {"endangered", "threatened", "protected", "iucn", "vulnerable", "conservation",
                            "extinct", "declin", "declined", "rare"},
    "flight_period": {"january", "february", "march", "april", "may", "june", "july", "august", "september",
                      "october", "november", "december", "brood", "flight", "season"},
    "larval_host_plants": {"caterpillar", "larva", "larvae", "host"},
    "adult_food": {"nectar", "adult"},
    "life_cycle": {"egg", "pupa", "chrysalis", "cocoon", "overwinter", "generation", "hibernate"},
    "habitat": {"habitat", "forest", "meadow", "grassland", "woodland", "garden"},
    "distribution": {"native", "found", "range", "occur"},
}

# Words that end the common name of a butterfly or moth ("gulf fritillary", "Goliath birdwing").
_GROUP_TEXT = """
butterfly butterflies moth moths swallowtail swallowtails birdwing birdwings fritillary fritillaries
skipper skippers hairstreak hairstreaks blue blues white whites copper coppers admiral admirals sulphur
sulphurs emperor hawkmoth sphinx tiger morpho tortoiseshell crescent checkerspot metalmark ringlet heath
satyr nymph elfin azure duskywing longwing heliconian glasswing clearwing caterpillar caterpillars owl
owlet silkmoth underwing
"""
GROUP_NOUNS = set(_GROUP_TEXT.split())


# group words that are only ever butterflies or moths (not "owl", "tiger", "blue" ...)
_LEPIDOPTERA |= GROUP_NOUNS - {"owl", "tiger", "nymph", "blue", "white", "copper"}
# words that make a message about butterflies and moths: group nouns, life stages and group words
LEPIDOPTERA_WORDS = frozenset(_LEPIDOPTERA)


# things named after butterflies that are none ("butterfly stroke", "butterfly pea", "butterflies in my
# stomach"): the noun after "butterfly" says what is meant
_BUTTERFLY_THINGS = {
    "stroke", "strokes", "knife", "knives", "effect", "valve", "valves", "nut", "nuts", "pea", "peas",
    "fish", "fishes", "ray", "rays", "kiss", "kisses", "clip", "clips", "stitch", "stitches", "chair",
    "chairs", "sleeve", "sleeves", "bandage", "bandages", "closure", "closures", "keyboard", "rash",
    "pose", "swimmer", "swimmers", "swimming", "screw", "screws", "bolt", "bolts", "hinge", "hinges",
    "curve", "tea", "stretch", "crunch",
}
_OWNERS = {"my", "your", "his", "her", "their", "the", "our"}
_BELLY = {"stomach", "tummy", "belly"}


def names_butterfly_thing(words: list[str]) -> bool:
    """Whether a message (its tokens) speaks of a thing named after butterflies, and of no butterfly,
    moth or caterpillar besides ("how do I breathe in butterfly stroke", "why does butterfly pea tea
    turn purple", "butterflies in my stomach", "a social butterfly", "Madame Butterfly")."""
    own = set()
    for k, w in enumerate(words):
        if w not in ("butterfly", "butterflies"):
            continue
        after = words[k + 1:k + 4]
        if (after[:1] and after[0] in _BUTTERFLY_THINGS
                or len(after) >= 3 and after[0] == "in" and after[1] in _OWNERS and after[2] in _BELLY
                or k > 0 and words[k - 1] in ("social", "madame", "madama", "madam")):
            own.add(k)
    said = {k for k, w in enumerate(words) if w in _LEPIDOPTERA}
    return bool(own) and said <= own


# animals that butterfly questions bring in as predators, partners or likenesses ("toxic to birds?", "why
# does the large blue need ants", "bird or bug?"): asked about in a clause, they do not make it off topic
PARTNERS = {"bird", "birds", "bat", "bats", "bee", "bees", "bumblebee", "bumblebees", "ant", "ants", "wasp",
             "wasps", "hornet", "hornets", "hummingbird", "hummingbirds", "spider", "spiders", "dragonfly",
             "dragonflies", "lizard", "lizards", "frog", "frogs", "toad", "toads", "aphid", "aphids"}


def asks_about_other_animal(asked: list[str]) -> bool:
    """Whether an asking clause (its tokens) is about another animal, one that butterfly questions do
    not bring in as a predator, partner or likeness ("how do I identify caddisfly species?", "why do
    zebras have stripes?")."""
    return about_other_animal(asked) and bool(set(asked) & OTHER_ANIMALS - PARTNERS)


# a butterfly word before one of these names a place or a tool, not an insect ("our butterfly house")
_PLACES_FOR = {"house", "houses", "farm", "farms", "garden", "gardens", "park", "conservatory", "centre",
               "center", "exhibit", "exhibition", "sanctuary", "reserve", "zoo", "dome", "pavilion", "world",
               "net", "nets"}
# life-stage words that other insects share ("caddisfly larvae", "bee pupae")
_SHARED_STAGES = {"larva", "larvae", "pupa", "pupae", "cocoon", "cocoons"}
_DISOWNING = re.compile(r"^(?:not|never|no)(?: (?:a|an|the|any|your))?$")


def disowned(words: Sequence[str], k: int) -> bool:
    """Whether the word at ``words[k]`` is said not to be meant ("not the butterfly", "not the Cleopatra
    but ...", "no moths")."""
    return any(_DISOWNING.match(" ".join(words[k - n:k])) for n in (1, 2) if k >= n)


def lepidoptera_words_at(words: list[str]) -> set[int]:
    """Where a message (its tokens) speaks of a butterfly or moth: its Lepidoptera words, less a
    butterfly word naming a place ("our butterfly house"), a life stage of another animal ("caddisfly
    larvae") and a butterfly word disowned ("the flycatcher bird, not the butterfly")."""
    at = set()
    for k, w in enumerate(words):
        if w not in LEPIDOPTERA_WORDS:
            continue
        if k + 1 < len(words) and words[k + 1] in _PLACES_FOR and w in ("butterfly", "butterflies", "moth"):
            continue
        if w in _SHARED_STAGES and k > 0 and words[k - 1] in OTHER_ANIMALS:
            continue
        if disowned(words, k):
            continue
        at.add(k)
    return at


def about_other_animal(words: list[str]) -> bool:
    """Whether a message (its tokens) names another animal and speaks of no butterfly, moth or
    caterpillar (see ``lepidoptera_words_at``)."""
    # "hovering like a tiny hummingbird" compares a moth with one; it is not about hummingbirds
    found = {w for k, w in enumerate(words) if "like" not in words[max(0, k - 3):k]}
    found |= {w[:-2] + "ies" for w in found if w.endswith("ys")}  # "dragonflys"
    return bool(found & OTHER_ANIMALS) and not lepidoptera_words_at(words)


# Whole words that decide what a question asks: a visitor's slip of one of them ("caled",
# "posionous", "adlts") is repaired before the question is read (text.repair_typos).
_ASKING_TEXT = """
called call named name names known caterpillar caterpillars adult adults larva larvae poisonous poison
toxic venomous dangerous harmful related relatives relative mimic mimics imitate copy resemble nocturnal
migrate migrates migration endangered threatened protected wingspan difference different distinguish
smaller bigger larger largest smallest biggest tiniest scientific latin family habitat eggs lifespan
hibernate winter summer spring autumn butterfly butterflies moth moths where what which when does live
lives eat eats feed feeds food flowers nectar drink identify recognise recognize colour color pattern
female females male males underside wings tails spots look looks similar confused mistaken season
flight found native range country countries world chrysalis cocoon pupa metamorphosis predators
"""
# only words of six letters or more: a slip of a short word is too often another word ("maths" is no
# slip of "moths", "love" none of "live")
QUESTION_WORDS = frozenset(w for w in _ASKING_TEXT.split() if len(w) >= 6)

# A clause that asks ("where is it from originally") rather than tells ("it was in a zoo exhibit").
_ASKING_START = re.compile(r"^(?:(?:and|so|also|but|ok|okay|hi|hey|pls|please|quick q|q|yeah|yes|right|well|"
                           r"um|umm|erm|anyway)\s+)*"
                           r"(what|whats|where|wheres|why|how|hows|when|which|who|whose|is|are|was|were|do|"
                           r"does|did|can|could|will|would|should|has|have|any|tell me)\b")
# a clause break: punctuation, a free-standing dash, "but", or a question word that starts a question
# inside a run-on message ("a monarch landed on my balcony what do its caterpillars eat")
_CLAUSE_BREAK = re.compile(r"[.?!;,:()]+|\s-+\s|\bbut\b|"
                           r"(?<=\S)\s+(?=(?:what|where|why|how|which|when)\s+(?:do|does|did|is|are|was|"
                           r"were|can|could|would|should|will|long|big|many|much|far|fast|come|kind)\b)")


def is_asking(clause: str) -> bool:
    """Whether a normalised clause is worded as a question ("where is it from originally")."""
    return bool(_ASKING_START.match(clause))


# a clause that asks only about the one before it: "..., is that ok?", "... - is it safe?"
_BACK_REFERENCE = re.compile(r"^(is|was|would|will) (that|this|it) (be )?(ok|okay|alright|all right|safe|"
                             r"allowed|bad|harmful|dangerous|a good idea|a problem|"
                             r"(even |really )?possible)$|"
                             # "my old book calls it by an English name - what was it?" asks for that name
                             r"^(what|which) (is|was|were|are) (it|that|they|those)$")
# a clause that only asks whether the one before it is true: "... nonsense, right?", "... true?"
_TRUTH_CHECK = re.compile(r"^(?:(?:or|so|and|but|surely)\s+)?(?:(?:is|isn't|was) (?:that|this|it) )?"
                          r"(?:(?:really|actually|just|all|total|complete|utter)\s+)?"
                          r"(true|right|correct|wrong|a myth|myth|nonsense|rubbish|false|real|a fact|"
                          r"fact or fiction|true or false|or not|really|am i right|am i wrong|fake)$")


def asking_clauses(message: str) -> str:
    """The clauses of ``message`` that ask something (end in "?" or open with a question word; failing
    those, name a section such as "range"), joined; the whole message when no clause does. Context a
    visitor adds ("my son touched one", "it was in a zoo exhibit") is left out."""
    norm = message.lower()
    parts: list[str] = []
    clauses: list[str] = []
    start = 0
    for m in [*_CLAUSE_BREAK.finditer(norm), None]:
        end = m.start() if m else len(norm)
        clause = norm[start:end].strip()
        if clause and _BACK_REFERENCE.match(clause) and clauses and clauses[-1] not in parts:
            parts.append(clauses[-1])  # "pick up the caterpillar, is that ok?" asks about the picking up
        if clause and _TRUTH_CHECK.match(clause):
            # "someone told me the queen is basically a monarch. nonsense, right?" asks about the claim
            claim = next((c for c in reversed(clauses) if not _TRUTH_CHECK.match(c)), None)
            if claim is not None and claim not in parts:
                parts.append(claim)
            start = m.end() if m else len(norm)
            continue
        if clause:
            clauses.append(clause)
        if clause and ((m is not None and "?" in m.group()) or is_asking(clause)):
            parts.append(clause)
        start = m.end() if m else len(norm)
    if not parts and len(clauses) > 1:
        # no clause is worded as a question ("we were out walking and the kids got curious. luna moth
        # range"): the clauses that name something to look up ask, the story around them does not
        parts = [c for c in clauses if parse_intent(c, []).sections]
        if len(parts) == len(clauses):
            parts = []
    return " ".join(parts) if parts else message


# "they only live a short time", "how long do adults live for": a lifespan, not a place to live
_LIFESPAN = re.compile(r"\b(live|lives|living)\b[a-z ]{0,16}(?<!\ball )(?<!\ball the )(?<!\bthe whole )"
                       r"\b(short|long|time|days?|weeks?|months?|years?|while)\b|"
                       r"\bhow long\b[a-z ]{0,30}\b(live|lives|living)\b")

# "what plants do they live on", "which tree does it live on": its food
_LIVE_ON = re.compile(r"\b(what|which)\b[a-z ]{0,30}\b(live|lives|living)\s+on\b"
                      r"(?!\s+(the|an?|this|that|my|our)\b)")

# "which bush do I look for", "what vine does it lay eggs on": a plant asked for is a food plant
_WHICH_PLANT = re.compile(r"\b(which|what) (kind of |sort of |type of )?(bush|bushes|shrubs?|trees?|plants?|"
                          r"vines?|weeds?|hedge|hedges)\b")


def asks_food_plant(text: str) -> bool:
    """Whether lower-cased ``text`` asks what plant it lives on or uses ("what do its caterpillars live
    on", "which trees does it lay eggs on"), with no word of eating in it."""
    return bool(_LIVE_ON.search(text) or _WHICH_PLANT.search(text))


# ("ten different species" is no comparison; "different from", "how is it different" are)
_COMPARE = re.compile(r"\bdifferent (from|to|than)\b|\bhow (is|are|do|does|can)\b[^?.]{0,40}\bdifferent\b|"
                      r"\bor different\b|"
                      r"\b(distinguish\w*|difference\w*|differ|differs|versus|vs|compar\w*|confus\w*|apart|"
                      r"mistak\w*|lookalikes?|similar)\b|\btell\b.*\bfrom\b|\bbetween\b.*\band\b|"
                      r"\bor\b[^?.]*\bhow (do|can|would|should) (i|you|u|we) tell\b")


# Every single-word cue, stemmed: words that choose a section but say nothing about the answer itself.
_CUE_WORDS = {w for words, _ in _CUES.values() for w in words}
CUE_TERMS = _CUE_WORDS | {stem(w) for w in _CUE_WORDS}


@dataclass
class Intent:
    """Sections a question asks about (strongest first) and whether it compares species."""

    sections: list[str] = field(default_factory=list)
    compare: bool = False
    on_domain: bool = False

    def wants(self, section: str) -> bool:
        """Whether ``section`` is among the asked-for sections."""
        return section in self.sections


# each phrase cue as whole words ("from a" is not in "from abroad", "tell a" not in "tell about")
_PHRASES = {p: re.compile(rf"\b{re.escape(p)}\b") for _, phrases in _CUES.values() for p in phrases}


# "when" inside a clause that another question word opens is a conjunction ("why is it brown underneath
# when the top is so bright", "what does it do when threatened"), not a question about the season
_WHEN_JOINS = re.compile(r"\b(why|how|what|whats|which|where|who)\b[^.?!;]*?(?<!\band)(?<!\bor)(?<!,)"
                         r"\s+when\b")


# "it made a hissing noise when I moved it": a "when" before its clause's subject joins two clauses;
# "when did the cabbage white arrive in north america" asks about a past event, not the flight season
_WHEN_NOT_SEASON = re.compile(r"\bwhen (?:i|you|we|he|she|they|someone|somebody|people|my|our|your|his|her|"
                              r"their|did)\b")


# ... unless a verb of asking or knowing comes just before it: "i wonder when they fly"
_WONDER = re.compile(r"\b(wonder\w*|know|knows|sure|tell( me| us)?|ask\w*|curious|idea|find out|say|says)"
                     r"\s*$")


# a place on the insect, not in the world
_ON_BODY = re.compile(r"\b(where|whereabouts)\b[^?.!]{0,40}\bon (it|them|the wings?|its wings?|their wings?|"
                      r"the (butterfly|moth|body|underside|upperside))\b|"
                      r"\b(where|whereabouts) on (the|its|their) (wings?|body|underside|upperside)\b")


def asks_when(norm: str) -> bool:
    """Whether normalised text ``norm`` asks when; a "when" that only joins two clauses, or asks about a
    past event, does not."""
    joins = ({m.end() - 4 for m in _WHEN_JOINS.finditer(norm)}
             | {m.start() for m in _WHEN_NOT_SEASON.finditer(norm)
                if not _WONDER.search(norm[:m.start()])})
    return any(m.start() not in joins for m in re.finditer(r"\bwhen\b", norm))


def parse_intent(text: str, content_terms: list[str]) -> Intent:
    """Guess the asked-for sections from cue words; ``content_terms`` are the message's stemmed terms."""
    norm = normalize(text)
    if not re.search(r"\btell\b", norm):
        norm = re.sub(r"\bapart from\b", "besides", norm)  # "anywhere apart from florida" compares nothing
    raw_words = set(re.findall(r"[a-z0-9]+", norm))
    stems = set(content_terms) | {stem(w) for w in raw_words}
    if "when" in raw_words and not asks_when(norm):
        raw_words.discard("when")
        stems.discard("when")
    scores: dict[str, float] = {}
    for section, (words, phrases) in _CUES.items():
        hits = sum(1 for w in words if w in stems or w in raw_words
                   or (w in PREFIX_CUES and any(r.startswith(w) for r in raw_words)))
        hits += sum(2 for p in phrases if _PHRASES[p].search(norm))
        if hits:
            scores[section] = hits
    # "how do caterpillars eat" is about host plants; "what do adults eat" about nectar
    if "food" in scores and ("larval_host_plants" in scores or "adult_food" in scores):
        del scores["food"]
    compare = bool(_COMPARE.search(norm))
    if compare:
        scores["similar_species"] = scores.get("similar_species", 0) + 2
    if "where" in raw_words and ("live" in stems or "lives" in raw_words):
        scores["distribution"] = scores.get("distribution", 0) + 2
    if _LIVE_ON.search(norm) or _WHICH_PLANT.search(norm):
        # "what do its caterpillars live on": what it eats, not where it lives
        scores["food"] = scores.get("food", 0) + 2
        scores.pop("habitat", None)
    if _LIFESPAN.search(norm) and "where" not in raw_words:
        if "habitat" in scores:
            scores["habitat"] -= 1
            if scores["habitat"] <= 0:
                del scores["habitat"]
        scores["life_cycle"] = scores.get("life_cycle", 0) + 2
    if "on the wing" in norm and "identification" in scores:
        scores["identification"] -= 1 + ("wings" in raw_words)
        if scores["identification"] <= 0:
            del scores["identification"]
    if _ON_BODY.search(norm):
        # "where on the wing is the question mark", "where is the comma mark on it": a place on the insect
        for section in ("distribution", "habitat", "flight_period"):
            scores.pop(section, None)
        scores["identification"] = scores.get("identification", 0) + 3
    sections = sorted(scores, key=lambda s: -scores[s])
    on_domain = bool(stems & DOMAIN)
    return Intent(sections=sections, compare=compare, on_domain=on_domain)
