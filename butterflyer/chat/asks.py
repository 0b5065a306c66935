"""Question-intent rules: what kind of sentence a question asks for, and whether a sentence is one.

Each kind (a reason, a relation to another species, a name, a name's origin, who described it,
butterfly or moth, what eats it, whether it is poisonous) pairs a pattern that spots the ask in the
question with a pattern that spots an answering sentence. The planner (plan.py) uses them to rank
sentences and to refuse one that is not of the asked-for kind.
"""

from __future__ import annotations

import re

from butterflyer.chat.intent import GROUP_NOUNS

# group words and their plurals ("one of the blues", "one of the satyrs")
_GROUPS = "|".join(sorted(GROUP_NOUNS | {f"{w}s" for w in GROUP_NOUNS}, key=len, reverse=True))

# What kind of sentence answers the question: a reason, a relation between species, or a name.
# A question after a reason; only a sentence that gives one may answer it (a "how do they survive"
# question may also be answered by a plain description, so it only steers the ranking).
WHY = re.compile(r"\bwhy\b|\bhow come\b|\bwhat makes\b|\bwhat('s| is) the (point|purpose|use) of\b|"
                 # "explain the function of its long hindwing tails"
                 r"\b(function|purpose|job|role) of (the |its |their |these |those |that |this )\b|"
                 r"\bwhat (are|is)\b[^?]{0,60}\bfor\s*\??\s*$|"
                 r"\bhow (do|does|did) [^?]{0,60}\b(end up|come to (have|be)|get to have|get away with)\b")
# words that say one species mimics another ("copying", "a mimic of", "imitates", "pretending to be")
MIMICRY_WORDS = r"mimic\w*|imitat\w*|cop(?:y|ies|ied|ying)|pretend\w*"
MIMICRY = re.compile(rf"\b({MIMICRY_WORDS})\b")
ASKS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "reason": (re.compile(WHY.pattern + r"|\bhow (do|does|can) .*\b(hide|escape|avoid|protect|survive|"
                                        r"find(?! (their|its|the) way)|feed|defend|frighten|scare|deter|"
                                        r"fool|trick|warn|attract)"),
               re.compile(r"\b(because|so that|which makes|makes? (it|them)|warn\w*|scar\w*|startl\w*|"
                          r"frighten\w*|protect\w*|predators?|distasteful|poison\w*|toxi\w*|camoufla\w*|"
                          r"thought to|helps?|to stop|hides?|disguise|bats?|reflect\w*|scales?|gives? off|"
                          r"comes? from|due to|thanks to|in order to|as an adult|overwinter\w*|hibernat\w*|"
                          r"mimic\w*|spends? the winter|introduced|which is why|that is why|"
                          r"when (threatened|disturbed|attacked)|"
                          r"named (after|for)|its name|mistaken for|interference|pigments?|"
                          r"to (get|obtain|gain|collect|escape|avoid|attract|warm|keep|find|follow)|"
                          r"during (territorial|courtship|mating)|to (defend|court)|"
                          r"by \w{2,}ing)\b|, so\b")),
    "relation": (re.compile(r"\b(" + MIMICRY_WORDS + r"|resembl\w*|related|relatives?|"
                            r"same (genus|family|subfamily|group|tribe)|"
                            r"cousins?|look(s)? like(?!\s+(as|when|in|at|during|before|after|from)\b)"
                            r"(?=\s+\w)|"
                            r"confused with|mistaken for)\b"),
                 re.compile(r"\b(mimic\w*|imitat\w*|cop(y|ies)|resembl\w*|model|relat\w*|look(s)? like|"
                            r"same genus|close relative|in the family)\b")),
    "scientific": (re.compile(r"\b(scientific|latin|proper name|binomial|taxonomic name)\b"),
                   re.compile(r"\([A-Z][a-z]+ [a-z]+\)")),
    "name": (re.compile(r"\b(called|call|name[sd]?|known as|nick ?names?)\b|"
                        r"\b(which|what) (butterfly|moth|species) is (that|it|this)\b"),
             re.compile(r"\b(known as|called|named|nicknamed|its name|is the classic)\b")),
    # where a name comes from: "why is it called that", "who named it", "which naturalist gave it its name"
    "origin": (re.compile(r"\b(why|how come)\b.*\b(called|named|name|call)\b|"
                          r"\bwho (first )?named\b|\bgave\b.*\bname\b|\bname (come|came|mean)|\borigin of\b|"
                          r"\bnamed (after|for)\b|"
                          r"\bwho (was|is|were) (the )?[a-z']+ in (its|the|their|this) name\b|"
                          r"\b(get|got|gets) (its|that|the|their|this|such an?) (\w+ )?name\b|"
                          r"\bname\b[^?.]{0,40}\bcome from\b|\bname\W+meaning\b|"
                          r"\bmeaning of (the |its |their |that )?name\b"),
               re.compile(r"\b(named (after|for|by|in)|gets? its name|got its name|gives? (it )?its name|"
                          r"name comes|in honou?r of|because of its|for the \w+ (colou?r|pattern|shape))\b")),
    # "is it actually several species?", "is Astraptes fulgerator truly one species?": whether the name
    # hides more than one species, which a sentence about a species complex answers
    "split": (re.compile(r"\b(actually|really|truly|in fact|still|just) (one|a single|several|many|multiple|"
                         r"two|three|ten|\d+|different|separate) species\b|"
                         r"\b(species complex|cryptic species)\b"),
              re.compile(r"\b(complex of|species complex|cryptic species|split into|separate species|"
                         r"distinct species|genetically distinct)\b")),
    # "can it bite her": whether it can hurt with its mouth, which its mouthparts or its harmlessness answer
    "bite": (re.compile(r"\b(bite|bites|biting|bitten|nip|nips)\b"),
             re.compile(r"\b(mouthparts|mouth parts|no mouth|proboscis|harmless|cannot bite|can't bite|"
                        r"do not feed|does not feed)\b")),
    # "it made a hissing noise when I moved it": a sound it makes, which only a sentence about a sound answers
    "sound": (re.compile(r"\b(noises?|noisy|hiss\w*|click\w*|squeak\w*|buzz\w*|crackl\w*|rustl\w*)\b"),
              re.compile(r"\b(sounds?|noises?|hiss\w*|click\w*|squeak\w*|buzz\w*|crackl\w*|rustl\w*|"
                         r"humming)\b")),
    # "what months should we plan for", "what time of year": only a sentence that names months or seasons
    "season": (re.compile(r"\b(what|which) (months?|seasons?|time of (the )?year)\b"),
               re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|"
                          r"december|spring|summer|autumn|fall|winter|all year|year-round|year round)\b")),
    # "does it live in Britain all year or does it fly in?": whether it is resident or a migrant
    "resident": (re.compile(r"\b(all (the )?year|year[- ]round)\b[^?]*\bor\b|\b(resident|migrant|immigrant|"
                            r"come from abroad|comes from abroad|arrive from)\b|"
                            # "does it live in ireland or just visit?"
                            r"\b(just|only) (visit|visits|visiting|a visitor|visitors|passing through)\b|"
                            r"\b(fly|flies|come|comes) in( from \w+)?\s*(\?|$)|"
                            r"\b(fly|flies|come|comes) in from\b|"
                            # "where on earth have they come from", "do they come over from somewhere else",
                            # "where do these go for the winter"
                            r"\bwhere\b[^?.]{0,20}\b(have|had) (they|these|those|it|this|that|one) "
                            r"(come|came)\b|"
                            r"\b(come|comes|came) (over )?(from|fae) (somewhere|elsewhere|abroad|another)\b|"
                            r"\bwhere (do|does|did) (they|these|those|it|this one|that one|the \w+) go\b"
                            r"[^?.]{0,25}\bwinter\b"),
                 re.compile(r"\b(migrants?|migrat\w*|immigrants?|resident|visitors?|arriv\w*|introduc\w*|native|"
                            r"overwinter\w*|hibernat\w*|spends? the winter|survive the winter)\b")),
    # who described or discovered it (and when): only a sentence naming the describer or the year answers
    "author": (re.compile(r"\bwho (first )?(described|discovered|found|classified)\b|\bdiscover\w*\b|"
                          r"\b(first|originally|formally) described\b|"
                          r"\bwhen was\b.*\b(described|discovered)\b"),
               re.compile(r"\b(described|discovered|first found|collected) (by|in)\b|"
                          r"\b(1[6-9]\d\d|20[0-2]\d)\b")),
    # "is it a butterfly?", "moth or butterfly?": the classification sentence answers, not an alias
    "kind": (re.compile(r"\b(is|are) (it|this|that|they|these|the [a-z' -]+?) "
                        r"(?:(?:really|actually|truly|definitely|even|still) )?an? "
                        r"(butterfl\w*|moths?)\s*\??\s*$|"
                        # "this looks like a butterfly - is it actually one?"
                        r"\b(butterfl\w*|moths?)\b.*\b(is|are) (it|this|they) (?:really |actually )?"
                        r"(one|ones)\s*\??\s*$|"
                        r"\b(butterfl\w*|moths?) or (an? )?(moths?|butterfl\w*)\b|"
                        r"\b(birds?|insects?|bugs?) or (an? )?(insects?|birds?|bugs?)\b|"
                        # "is the cinnabar moth a kind of tiger moth", "are rosy maples silk moths too":
                        # whether it belongs to a group, which its classification says
                        r"^\s*(is|are) (it|this|that|they|these|the [a-z' -]+?|[a-z' -]+?) "
                        r"(an? )?(kind|type|sort|member|species) of\b|"
                        # "so is it one of the blues?": whether it belongs to the group the word names
                        rf"\bone of the ({_GROUPS})\b|"
                        r"^\s*(is|are)\b[^?]*\b(moths?|butterfl\w*)\b[^?]*\b(silk|hawk|tiger|sphinx|owlet|"
                        r"emperor|moon|giant silk|milkweed|brush-footed|brushfoot) (moths?|butterfl\w*)\b"),
             re.compile(r"\b(is|are) an? (day-flying |night-flying )?(butterfly|moth)\b|\bin the family\b")),
    # "what eats monarchs": the species is eaten, not eating; only a sentence about its enemies answers
    "predator": (re.compile(r"\bwhat (eats|eat|hunts|kills|attacks|preys on)\b|\bpredators?\b|"
                            r"\b(birds?|predators?|animals?) (that|which) (try|want|tries|wants) to eat\b|"
                            r"\b(do|does|will|would|can) (birds?|bats?|spiders?|lizards?|animals?|wasps?) "
                            r"(eat|hunt|attack|prey on|catch)\b|"
                            r"\b(what|which|who) (animals?|birds?) (eat|eats|hunt|hunts)\b"),
                 re.compile(r"\b(predators?|birds?|bats?|spiders?|wasps?|lizards?|eaten by|preyed on|"
                            r"parasit\w*|distasteful)\b")),
    # "are they bad for my veg patch": whether it harms plants people grow
    "pest": (re.compile(r"\bpests?\b|\bfull of holes\b|\bholes in (my|the|our)\b|"
                        r"\b(bad|harmful|a problem|dangerous) (for|to) (my|the|our|your) "
                        r"(\w+ )?(garden|veg\w*|crops?|plants?|patch|allotment|cabbages?|trees?)\b|"
                        r"\b(damage|harm|ruin|destroy|eat|kill)s? (my|our|the) (\w+ )?"
                        r"(garden|veg\w*|crops?|plants|patch|allotment|cabbages|brassicas)\b"),
             re.compile(r"\b(pests?|damag\w*|crops?|defoliat\w*|strip\w* (the )?(leaves|plants))\b")),
    # "does it fly by day or at night", "day or night flier": when in the day it is active
    "active_time": (re.compile(r"\b(day|daytime|daylight|days)\b[^.?!]{0,25}\bor\b[^.?!]{0,20}"
                               r"\b(night|nights|nighttime|dusk|evening|dark)\b|"
                               r"\b(night|nighttime|dusk)\b[^.?!]{0,25}\bor\b[^.?!]{0,20}\b(day|daytime|daylight)\b|"
                               r"\b(nocturnal|diurnal|day-flying|day flying|night-flying|night flying)\b|"
                               r"\b(fly|flies|flying|out|active)\b (in the |during the |by )?"
                               r"(day|daytime|daylight)\b"),
                    re.compile(r"\b(by day|by night|at night|at dusk|in the day|during the day|in daylight|"
                               r"in (the )?sunshine|day-flying|night-flying|nocturnal|diurnal|daytime)\b")),
    # "can it hurt him", "is it safe for birds to eat": whether it is poisonous or stings
    "defence": (re.compile(r"\bwhat (does|do|will|would|can) (it|they|one) do (if|when)\b|"
                           # "does it taste bad to birds": whether it is distasteful
                           r"\btastes? (bad|bitter|nasty|horrible|awful|disgusting|foul|vile|terrible)\b|"
                           r"\b(bad|foul|nasty)[- ]tasting\b|\b(unpalatable|distasteful|inedible)\b|"
                           r"\b(poison\w*|toxic|venom\w*|stings?|dangerous|harmful|hurt|edible|"
                           r"safe (to|for \w+ to) (eat|touch|handle|hold|pick up)|(ok|okay) to touch|"
                           r"(pick|picks|picking) (it |them |one |that |this )?up\b.*"
                           r"\b(ok|okay|alright|all right|safe))\b"),
                re.compile(r"\b(poison\w*|toxi\w*|distasteful|unpalatable|bad-tasting|cyanide|venom\w*|sting\w*|irritat\w*|"
                           r"bitter|when (handled|threatened|disturbed|attacked)|play\w* dead)\b")),
}


# "my american cousin calls it ...": a person, not a relative of the species
_PEOPLE = re.compile(r"\b(my|our|his|her|your|their)( \w+)? (cousins?|relatives?|kin)\b")


def without_people(low: str) -> str:
    """A lowercased question without mentions of the visitor's own relatives."""
    return _PEOPLE.sub(" ", low)


def asks(text: str) -> list[str]:
    """The kinds of answer sentence the question asks for (reason, relation, name)."""
    low = without_people(text.lower())
    found = [kind for kind, (question, _) in ASKS.items() if question.search(low)]
    if _CONTRAST.search(low):
        found = [k for k in found if k != "kind"]  # "the difference between a moth and a butterfly"
    if "resident" in found and _WHERE_IN.search(low) and not ASKS["resident"][1].search(low):
        found.remove("resident")  # "which part of the world does it fly in": where, not whether it stays
    return [k for k in found if not (k == "name" and "scientific" in found)]


# a question whose "in" closes a where ("what countries does it fly in")
_WHERE_IN = re.compile(r"\b(which|what) (parts?|countr(y|ies)|regions?|areas?|places?|states?|provinces?|"
                       r"continents?|habitats?|kinds? of \w+|sorts? of \w+|types? of \w+)\b[^?.]*\b"
                       r"(fly|flies|come|comes) in\s*(\?|$)")
_CONTRAST = re.compile(r"\b(difference|differences|differ|between|tell apart|apart|versus|vs|tell)\b")


def asks_for_other(text: str) -> bool:
    """"Which moth looks like ...", "what is it related to": the answer is another species."""
    return bool(re.search(r"\b(which|what)\b( other| kind of| sort of)? ?(butterfl\w*|moths?|species|ones?|"
                          r"insects?)\b|\b(related to|relatives?|cousins?)\b", without_people(text.lower())))


def answers_ask(sentence: str, kinds: list[str]) -> bool:
    """Whether a sentence is of a kind the question asks for."""
    low = sentence.lower()
    # the scientific-name pattern needs the capital of the genus, so it reads the sentence as written
    return any(ASKS[k][1].search(low) or ASKS[k][1].search(sentence) for k in kinds)

