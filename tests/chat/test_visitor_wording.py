"""Rules added after the third blind dev file (issue 17, turn 7): names built on a plant or on a colour
before a particular group word, Latin pairs in a refused message, other animals, pests, membership of a
group, "what are X for", size rankings within a family, and question-word slips."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import _described
from butterflyer.chat.asks import WHY, asks
from butterflyer.chat.guide import load_guide
from butterflyer.chat.intent import about_other_animal
from butterflyer.chat.kin import asks_relatives
from butterflyer.chat.measure import rank
from butterflyer.chat.names import NameShapes, Span, latin_pair
from butterflyer.chat.text import repair_question_words, tokens
from butterflyer.chat.unknown import Unknown

KINDS = {"RED ADMIRAL": "butterfly", "ADONIS": "butterfly"}
NAMES = {"RED ADMIRAL": {"red", "admiral"}, "ADONIS": {"adonis", "blue"}}
VOCAB = {"red", "admiral", "adonis", "blue", "black", "poplar", "willow", "swallowtail", "butterfly", "big",
         "where", "india", "eat", "birds", "like"}


@pytest.fixture
def shapes() -> NameShapes:
    return NameShapes(KINDS, NAMES, VOCAB)


@pytest.mark.parametrize(("message", "name"), [
    ("poplar admiral how big", "poplar admiral"),    # a food-plant word the guide uses still makes a name
    ("blue mormon where in india", "blue mormon"),   # a colour before a head no covered name holds
    ("lime swallowtail host plant", "lime swallowtail"),
])
def test_plant_and_colour_names_are_unknown(shapes: NameShapes, message: str, name: str) -> None:
    found = shapes.find(message, [])
    assert found is not None and found.name == name


@pytest.mark.parametrize("message", [
    "a black swallowtail in my garden",     # a colour before a broad group word describes one
    "a blue mormon-like butterfly",          # "-like" describes
    "do birds eat swallowtails",             # a verb is no name word
    "a lime green swallowtail with black bands",  # a plant before a colour makes a colour
])
def test_descriptions_are_no_unknown_name(shapes: NameShapes, message: str) -> None:
    assert shapes.find(message, []) is None


def test_latin_pair_only_from_unknown_latin_shaped_words() -> None:
    vocab = {"wet", "dry", "season", "forms", "explain", "monarchs", "eat", "danaus"}
    found = latin_pair("bicyclus anynana wet and dry season forms explain", vocab)
    assert found is not None and found.name == "bicyclus anynana"
    assert latin_pair("what do monarchs eat", vocab) is None
    assert latin_pair("danaus plexippus", vocab) is None  # a genus the guide uses is read elsewhere


@pytest.mark.parametrize(("message", "other"), [
    ("how do honeybees turn nectar into honey", True),
    ("what do bats eat", True),
    ("do birds eat butterflies", False),
    ("why do ants look after blue caterpillars", False),
])
def test_other_animals_without_a_butterfly_are_off_topic(message: str, other: bool) -> None:
    assert about_other_animal(tokens(message)) is other


@pytest.mark.parametrize(("question", "kind", "present"), [
    ("are they bad for my veg patch", "pest", True),
    ("do they damage my cabbages", "pest", True),
    ("white lined sphinx caterpillar nickname", "name", True),
    ("what does it look like as an adult", "relation", False),
    ("what does it look like", "relation", False),
    ("what does it look like the monarch", "relation", True),
    ("is the cinnabar moth a kind of tiger moth", "kind", True),
    ("are rosy maple moths silk moths like the io", "kind", True),
    ("do birds eat monarchs", "predator", True),
    ("what kind of caterpillar does the monarch have", "kind", False),
    ("what is the difference between a moth and a butterfly", "kind", False),  # a contrast
    ("is the luna moth a butterfly", "kind", True),
])
def test_asks(question: str, kind: str, present: bool) -> None:
    assert (kind in asks(question)) is present


@pytest.mark.parametrize("question", [
    "what are the comet moth's crazy long tails actually for",
    "how does the hummingbird clearwing end up with clear wings",
])
def test_purpose_and_how_come_questions_want_a_reason(question: str) -> None:
    assert WHY.search(question)


def test_same_group_asks_for_kinship() -> None:
    assert asks_relatives("is the paper kite in the same group as the monarch")


def test_size_ranking_within_a_named_family() -> None:
    guide = load_guide()
    answer = rank(guide, "biggest hawk moth on your list")
    assert answer is not None
    (sentence, labels), = answer.sentences
    assert "hawk moth" in sentence
    assert all(guide.species[x].family == "Sphingidae" for x in labels)
    tigers = rank(guide, "largest tiger moth")
    assert tigers is not None  # the guide gives wingspans for several tiger moths
    assert all(guide.species[x].subfamily == "Arctiinae" for x in tigers.sentences[0][1])


def test_slips_of_how_long() -> None:
    assert repair_question_words("how lond do adult luna moths live") == "how long do adult luna moths live"


def test_group_word_between_a_name_and_its_description() -> None:
    text = "large white butterfly with black spots and round red eyespots"
    assert _described(text, Unknown("large white", 0, 2))
    asked = "where does the large white butterfly with black tips live"
    assert not _described(asked, Unknown("large white", 3, 5))


@pytest.mark.parametrize(("sentence", "strong"), [
    ("The black form of the female tiger swallowtail mimics the poisonous pipevine swallowtail.", True),
    ("The adult Atlas moth lives for only one to two weeks, because it cannot feed.", True),
    ("Female eastern tiger swallowtails have blue scales on the hindwing.", False),  # a cue, no reason
    ("Birds and other predators take many caterpillars.", False),
])
def test_a_why_prefers_a_sentence_that_states_a_reason(sentence: str, strong: bool) -> None:
    from butterflyer.chat.plan import STRONG_REASON

    assert bool(STRONG_REASON.search(sentence.lower())) is strong


# --- fourth blind dev file ------------------------------------------------------------------
def test_a_hyphenated_name_is_taken_whole(shapes: NameShapes) -> None:
    found = shapes.find("kaiser-i-hind butterfly where does it live in india", [])
    assert found is not None and found.name == "kaiser-i-hind butterfly"


@pytest.mark.parametrize("message", [
    "enormous brown moth in our hotel in thailand",     # size words describe one seen
    "of the north american swallowtails which is the largest",  # a region, not a name
])
def test_descriptive_words_make_no_name(shapes: NameShapes, message: str) -> None:
    assert shapes.find(message, []) is None


def test_a_typed_group_word_is_no_slip_of_a_covered_name() -> None:
    from butterflyer.chat.linking import SpeciesLinker
    from butterflyer.chat.names import HEADS

    guide = load_guide()
    loose = SpeciesLinker(guide)
    strict = SpeciesLinker(guide, heads=HEADS)
    text = "common mormon females copy other swallowtails"
    assert "BLUE MORPHO" in {m.label for m in loose.find(text)}  # "common morpho" is one slip away
    assert "BLUE MORPHO" not in {m.label for m in strict.find(text)}
    typo = SpeciesLinker(guide, {"blue", "morpho", "where", "does", "live"}, heads=HEADS)
    assert "BLUE MORPHO" in {m.label for m in typo.find("where does the blu morpho live")}


def test_the_visitors_own_cousin_is_no_kinship_question() -> None:
    from butterflyer.chat.asks import without_people

    text = "my american cousin calls the painted lady something else, what other names does it have"
    assert not asks_relatives(text) and "relation" not in asks(text)
    assert "cousin" not in without_people(text)
    assert asks_relatives("is the luna moth a cousin of the atlas moth")


def test_a_species_named_in_a_comparison_is_not_the_one_described() -> None:
    from butterflyer.chat.answer import _compared_with

    text = "an orange butterfly like a monarch but smaller with a black line on the back wings"
    assert _compared_with(text, tokens(text).index("monarch"))
    assert not _compared_with("the monarch caterpillar is striped", 1)


def test_as_big_as_and_region_adjectives_in_size_questions() -> None:
    from butterflyer.chat.measure import is_size_question, region_of

    assert is_size_question("is a rosy maple moth anywhere near as big as an atlas moth")
    assert is_size_question("which moth is the hugest")
    assert region_of("of the north american swallowtails which is the largest") == "north america"
    assert region_of("which aussie butterfly is biggest") == "australia"


@pytest.mark.parametrize(("question", "range_ask"), [
    ("cleopatra butterflies, which countries can i see them in", True),
    ("pipevine swallowtail what part of the us do they live in", True),
    ("where can you see the glittering sapphire", True),
    ("where does it spend the winter", False),       # a place of another kind
    ("where does the pine white lay its eggs", False),
])
def test_range_questions(question: str, range_ask: bool) -> None:
    from butterflyer.chat.plan import _RANGE_ASK

    assert bool(_RANGE_ASK.search(question)) is range_ask


def test_get_away_with_wants_a_reason_and_birds_that_eat_it_ask_about_predators() -> None:
    assert WHY.search("how do six spot burnets get away with flying around in broad daylight")
    assert "predator" in asks("how does it scare off birds that try to eat it")


def test_holes_in_my_sprouts_ask_about_a_pest_and_a_glasswing_genus_is_known() -> None:
    from butterflyer.chat.names import GENERA

    assert "pest" in asks("are its caterpillars the reason my sprouts are full of holes")
    assert "greta" in GENERA


# --- sixth round (turn 8) -------------------------------------------------------------------
@pytest.mark.parametrize(("message", "asking"), [
    ("where is it from originally, it was in a zoo exhibit", "where is it from originally"),
    ("io moth stings??? its green and spikey my son touched one", "io moth stings"),
    ("my kid asked me - why do moths like lights", "why do moths like lights"),
    ("what is its genome size", "what is its genome size"),
    ("saw a big blue one in the garden today", "saw a big blue one in the garden today"),  # none asks
])
def test_asking_clauses_leave_out_the_context_a_visitor_adds(message: str, asking: str) -> None:
    from butterflyer.chat.intent import asking_clauses

    assert asking_clauses(message) == asking


@pytest.mark.parametrize(("message", "lifespan"), [
    ("they only live a short time as adults right? how long exactly", True),
    ("how long do adult luna moths live", True),
    ("do they live for years", True),
    ("where do they live", False),
    ("what kind of places do they live in", False),
])
def test_live_with_a_span_of_time_asks_for_the_lifespan(message: str, lifespan: bool) -> None:
    from butterflyer.chat.intent import parse_intent
    from butterflyer.chat.text import terms

    sections = parse_intent(message, terms(message)).sections
    assert (sections[:1] == ["life_cycle"]) is lifespan, sections
    if lifespan:
        assert "habitat" not in sections


def test_idioms_are_put_in_the_guides_words() -> None:
    assert "extinct" in repair_question_words("was the atala ever nearly wiped out in florida")
    assert "extinct" in repair_question_words("how did it die out in england")
    assert "generations" in repair_question_words("do they come out once a year or twice")
    assert repair_question_words("they die in autumn") == "they die in autumn"


def test_the_americas_is_a_region_of_its_own() -> None:
    from butterflyer.chat.measure import region_of

    assert region_of("biggest butterfly from the americas in your guide") == "the americas"
    assert region_of("what is the biggest butterfly in america") == "north america"


@pytest.mark.parametrize(("question", "kind"), [
    ("my son picked up the caterpillar, can it hurt him", "defence"),
    ("is it safe for birds to eat? it looks so bright", "defence"),
    ("are skippers like the mangrove skipper actually butterflies or moths??", "kind"),
])
def test_harm_and_group_membership_asks(question: str, kind: str) -> None:
    assert kind in asks(question)


def test_how_do_i_tell_a_moth_from_a_butterfly_is_no_membership_ask() -> None:
    assert "kind" not in asks("moth or butterfly how do i tell")


@pytest.mark.parametrize(("question", "compare"), [
    ("i read the two-barred flasher is actually about ten different species", False),
    ("how is the viceroy different from the monarch", True),
    ("are hawk moths and sphinx moths the same thing or different", True),
    ("whats the difference between a moth and a butterfly", True),
])
def test_different_compares_only_when_it_contrasts(question: str, compare: bool) -> None:
    from butterflyer.chat.intent import parse_intent
    from butterflyer.chat.text import terms

    assert parse_intent(question, terms(question)).compare is compare


def test_hyphenated_epithet_and_descriptive_words_before_a_colour() -> None:
    # "long" is a word of a covered name here ("zebra long wing"), as in the real guide
    shapes = NameShapes({**KINDS, "ZEBRA LONG WING": "butterfly"},
                        {**NAMES, "ZEBRA LONG WING": {"zebra", "long", "wing"}}, VOCAB | {"long"},
                        genera={"polygonia"})
    found = shapes.find("the comma (polygonia c-album) in my garden", [])
    assert found is not None and found.name == "polygonia c-album"
    # "long white-tipped hairs" and "black n yellow" describe; they name no species
    assert shapes.find("very hairy black caterpillar with long white-tipped hairs", []) is None
    assert shapes.find("caterpillar black n yellow strips what does it eat", []) is None


def test_wings_make_a_description_and_identity_asks() -> None:
    from butterflyer.chat.answer import asks_identity
    from butterflyer.chat.describe import is_description

    assert is_description("long skinny black wings with thin yellow stripes in my yard in miami")
    assert asks_identity("hairy black caterpillar on my path, what will it turn into")
    assert asks_identity("saw this orange one today, what is it?")
    assert not asks_identity("what are those long tails on its back wings actually for")
    assert not asks_identity("what do the caterpillars eat? found some huge green ones")


# --- seventh round (turn 8) -----------------------------------------------------------------
def test_a_colour_no_covered_name_pairs_with_its_head_names_another_species() -> None:
    shapes = NameShapes({**KINDS, "RED CRACKER": "butterfly", "CLOUDED YELLOW": "butterfly"},
                        {**NAMES, "RED CRACKER": {"red", "cracker"}, "CLOUDED YELLOW": {"clouded", "yellow"}},
                        VOCAB | {"cracker", "clicking", "cream", "border"})
    found = shapes.find("how does the gray cracker make its clicking sound", [])
    assert found is not None and found.name == "gray cracker"
    assert shapes.find("dark butterfly with a cream yellow border", []) is None  # a colour, not a name


def test_a_region_before_a_group_name_and_a_genus_before_a_covered_epithet() -> None:
    shapes = NameShapes({**KINDS, "COMET MOTH": "moth", "POLYPHEMUS MOTH": "moth"},
                        {**NAMES, "COMET MOTH": {"comet", "moth", "madagascan", "moon", "argema", "mittrei"},
                         "POLYPHEMUS MOTH": {"polyphemus", "moth", "antheraea"}},
                        VOCAB | {"african", "moon", "polyphemus", "mexico"}, genera={"morpho"})
    found = shapes.find("what do african moon moth caterpillars eat", [])
    assert found is not None and found.name == "african moon moth"
    found = shapes.find("where can i see morpho polyphemus", [Span("POLYPHEMUS MOTH", 5, 6)])
    assert found is not None and found.name == "morpho polyphemus"
    assert shapes.find("where can i see the polyphemus moth", [Span("POLYPHEMUS MOTH", 5, 7)]) is None


def test_fireflies_are_other_animals() -> None:
    assert about_other_animal(tokens("how do fireflies make light"))
    assert not about_other_animal(tokens("why are ants all over the chalk hill blue caterpillars"))


def test_opening_hours_are_no_guide_fact() -> None:
    from butterflyer.chat.plan import VISIT

    assert VISIT.search("which butterfly house has atlas moths and what are its opening hours")
    assert not VISIT.search("when does the atlas moth open its wings")


@pytest.mark.parametrize(("question", "term"), [
    ("what is a proboscis", "proboscis"),
    ("what does diapause mean?", "diapause"),
    ("define instar", "instar"),
    ("what is it", None),
    ("what is a butterfly", None),
    ("what is a monarch caterpillar's food", None),
])
def test_glossary_questions_name_the_term(question: str, term: str | None) -> None:
    from butterflyer.chat.plan import defined_term

    assert defined_term(question) == term


def test_a_glossary_question_is_answered_by_the_defining_sentence(tiny_engine) -> None:  # noqa: ANN001
    # the tiny guide defines no chrysalis on a topic page, so the species sentence that says what one is
    chunk, j = tiny_engine.planner.definition("chrysalis")
    assert "jade green" in chunk.sentences[j]
    assert tiny_engine.planner.definition("genome") is None


def test_related_or_just_look_alike_asks_kinship() -> None:
    assert asks_relatives("is the hummingbird hawk-moth actually related to the hummingbird clearwing, "
                          "or do they just look alike")
    assert not asks_relatives("which moth does it look like")


@pytest.mark.parametrize(("typed", "meant"), [
    ("what do clouded sulfer catapillers eat", "caterpillars"),
    ("cattapilar black n yellow", "caterpillar"),
    ("Argema mittrei in plain english?", "called"),
])
def test_common_misspellings_and_idioms_are_read_as_meant(typed: str, meant: str) -> None:
    assert meant in repair_question_words(typed)


def test_one_of_the_blues_asks_membership_and_counting_words_end_a_name(shapes: NameShapes) -> None:
    assert "kind" in asks("the glittering sapphire is blue, so is it one of the blues?")
    assert shapes.find("why is there always a bunch of male adonis blues on the path",
                       [Span("ADONIS", 8, 10)]) is None


@pytest.mark.parametrize("question", ["where do I actually look for purple hairstreaks",
                                      "little wood satyr, where do they hang out"])
def test_where_to_look_asks_for_the_kind_of_place(question: str) -> None:
    from butterflyer.chat.plan import _PLACE_KIND

    assert _PLACE_KIND.search(question)


def test_becoming_an_adult_is_no_single_stage() -> None:
    from butterflyer.chat.intent import Intent
    from butterflyer.chat.plan import Query

    def stage(text: str) -> str | None:
        return Query(text=text, intent=Intent(), targets=[], residual=[]).stage

    assert stage("how long does it take for a caterpillar to become a butterfly") is None
    assert stage("what does the caterpillar look like") == "caterpillar"


# --- eighth round (turn 8) ------------------------------------------------------------------
@pytest.mark.parametrize(("question", "kind"), [
    ("hummingbrid hawk moth is it a bird or insect lol", "kind"),
    ("why they call it dogface", "origin"),
    ("My grandfather used to talk about the 'hop merchant'. Which butterfly is that?", "name"),
])
def test_eighth_round_asks(question: str, kind: str) -> None:
    assert kind in asks(question)


def test_the_british_name_question_is_no_origin_of_the_main_name() -> None:
    from butterflyer.chat.plan import asked_name

    # it asks where the British name comes from: the name it ends on, not "mourning cloak"
    question = "why do the british call the mourning cloak the camberwell beauty"
    assert asked_name(question) == "camberwell beauty"


def test_family_with_asks_kinship_and_how_come_is_no_comparison() -> None:
    from butterflyer.chat.intent import parse_intent
    from butterflyer.chat.text import terms

    assert asks_relatives("is luna moth family with the comet moth of madagascar")
    text = "How come the question mark butterflies look different in summer than in autumn?"
    assert not parse_intent(text, terms(text)).compare


def test_a_possessive_name_typed_without_its_s_is_linked() -> None:
    from butterflyer.chat.linking import _keys

    assert "rajah brooke birdwing" in _keys(["rajah", "brooke", "s", "birdwing"])


def test_texting_fillers_are_stopwords() -> None:
    from butterflyer.chat.text import STOPWORDS

    assert {"tbh", "ngl", "rn", "idk"} <= STOPWORDS
