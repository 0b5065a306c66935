"""Name shapes: a phrase shaped like a species name is covered only when a guide name matches it whole."""

from __future__ import annotations

import pytest

from butterflyer.chat.names import NameShapes, Span, guide_epithets
from butterflyer.chat.text import tokens

KINDS = {"QUEEN": "butterfly", "BLUE MORPHO": "butterfly", "PEACOCK": "butterfly", "MONARCH": "butterfly",
         "ZEBRA": "butterfly", "LUNA": "moth"}
NAMES = {"QUEEN": {"queen"}, "BLUE MORPHO": {"blue", "morpho"}, "PEACOCK": {"peacock", "european"},
         "MONARCH": {"monarch"}, "ZEBRA": {"zebra", "longwing"}, "LUNA": {"luna", "moth"}}
VOCAB = {"queen", "blue", "morpho", "peacock", "monarch", "zebra", "longwing", "luna", "moth", "butterfly",
         "eat", "live", "look", "big", "orange", "black", "garden", "tiger", "swallowtail", "wing",
         "poisonous", "florida", "chrysippus", "caterpillar"}
# the guide names each test message uses, as (phrase, label); spans are found by token search
COVERED = {"queen": "QUEEN", "blue morpho": "BLUE MORPHO", "peacock": "PEACOCK", "monarch": "MONARCH",
           "luna moth": "LUNA"}


def _spans(message: str) -> list[Span]:
    toks = tokens(message)
    out = []
    for phrase, label in COVERED.items():
        p = phrase.split()
        for i in range(len(toks) - len(p) + 1):
            if toks[i:i + len(p)] == p:
                out.append(Span(label, i, i + len(p)))
    return out


@pytest.fixture
def shapes() -> NameShapes:
    return NameShapes(KINDS, NAMES, VOCAB, epithets={"chrysippus"})


@pytest.mark.parametrize(("message", "name"), [
    ("What does the Queen Victoria's birdwing eat?", "queen victoria s birdwing"),
    ("where does the menelaus blue morpho live", "menelaus blue morpho"),
    ("is the giant peacock moth big", "giant peacock moth"),
    ("what does the mexican bluewing look like", "mexican bluewing"),
    ("what does the scarce copper look like", "scarce copper"),
    ("where does the pink-spotted swallowtail live", "pink spotted swallowtail"),
    ("how big is Morpho menelaus", "morpho menelaus"),
    ("is Danaus chrysippus poisonous", "danaus chrysippus"),
    ("what do buckeye caterpillars eat", "buckeye caterpillars"),
    ("do bogong moths migrate", "bogong moths"),
    # a word that ends other names, before a covered name that lacks it (the Mormon is no monarch)
    ("when does the mormon monarch fly", "mormon monarch"),
])
def test_name_shaped_phrases_the_guide_lacks(shapes: NameShapes, message: str, name: str) -> None:
    found = shapes.find(message, _spans(message))
    assert found is not None and found.name == name


@pytest.mark.parametrize("message", [
    "what does the queen eat",                       # a covered name on its own
    "where does the blue morpho butterfly live",     # a covered name and its own group word
    "what do monarch caterpillars eat",              # the young of a covered species
    "where do western monarchs spend the winter",    # a population, not a species
    "is the luna moth big",
    "big orange and black butterfly in my garden",   # a description, not a name
    "a black swallowtail-like butterfly",            # colours alone are no name (the checklist knows those)
    "what do tiger moth caterpillars eat",
    "are heliconius poisonous",                      # a genus and an ordinary word
    "is the monarch a danaus species",
    "a Florida swallowtail in my yard",             # where it was seen
    "count 20 monarchs over the field",             # a count is no name word
    "Only ever logged 2 blue morphos",
    "a swallowtail-shaped butterfly",               # a likeness joined by a hyphen
])
def test_covered_names_and_descriptions_are_no_unknown(shapes: NameShapes, message: str) -> None:
    assert shapes.find(message, _spans(message)) is None


def test_guide_epithets_come_from_binomials_in_prose() -> None:
    texts = ["It mimics the plain tiger (Danaus chrysippus).", "Papilio glaucus is large. Red Admiral here."]
    assert guide_epithets(texts) == {"chrysippus", "glaucus"}
