"""Chat test fixtures: a tiny synthetic field guide (four species, one topic)."""
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

SPECIES = [
    {
        "label": "MONARCH", "common_name": "Monarch", "other_names": ["Milkweed butterfly"],
        "scientific_name": "Danaus plexippus", "kind": "butterfly", "family": "Nymphalidae",
        "subfamily": "Danainae", "genus": "Danaus", "wingspan_mm": {"min": 89, "max": 102},
        "distribution": "The monarch breeds across North America and has spread to Hawaii, Australia and Spain.",
        "habitat": "The monarch uses open fields, meadows and roadsides where milkweeds grow.",
        "larval_host_plants": "Monarch caterpillars feed only on milkweeds, which make them poisonous to birds.",
        "adult_food": "Adult monarchs sip nectar from goldenrod, asters and other late flowers.",
        "flight_period": "Monarchs fly from spring to autumn, with several generations each summer.",
        "life_cycle": "The monarch lays single eggs on milkweed leaves. The monarch chrysalis is jade green with gold dots.",
        "conservation_status": None,
        "identification": "The monarch is orange with black veins and a black border with white dots. "
                          "The monarch lacks the black line across the hindwing that a viceroy shows.",
        "similar_species": [{"label": "VICEROY", "how_to_tell": "The viceroy has a black line crossing the "
                             "hindwing veins, which the monarch lacks."}],
        "facts": ["Eastern monarchs migrate thousands of kilometres to winter in the mountains of central Mexico."],
    },
    {
        "label": "VICEROY", "common_name": "Viceroy", "other_names": [],
        "scientific_name": "Limenitis archippus", "kind": "butterfly", "family": "Nymphalidae",
        "subfamily": "Limenitidinae", "genus": "Limenitis", "wingspan_mm": {"min": 53, "max": 81},
        "distribution": "The viceroy lives across much of North America east of the Rocky Mountains.",
        "habitat": "The viceroy stays near willows in wet meadows, marshes and along streams.",
        "larval_host_plants": "Viceroy caterpillars eat the leaves of willows and poplars.",
        "adult_food": None, "flight_period": None, "life_cycle": None, "conservation_status": None,
        "identification": "The viceroy is orange and black and looks very much like a monarch, but smaller.",
        "similar_species": [{"label": "MONARCH", "how_to_tell": "The viceroy is smaller than the monarch "
                             "and flies with quick flaps and glides."}],
        "facts": ["The viceroy is a classic example of mimicry, since both viceroy and monarch taste bad to birds."],
    },
    {
        "label": "PAINTED LADY", "common_name": "Painted lady", "other_names": ["Cosmopolitan"],
        "scientific_name": "Vanessa cardui", "kind": "butterfly", "family": "Nymphalidae",
        "subfamily": "Nymphalinae", "genus": "Vanessa", "wingspan_mm": {"min": 50, "max": 60},
        "distribution": "The painted lady is found on every continent except Antarctica and South America.",
        "habitat": "The painted lady visits gardens, dunes and open weedy places.",
        "larval_host_plants": "Painted lady caterpillars feed mostly on thistles and mallows.",
        "adult_food": "Painted lady adults take nectar from thistles, clover and buddleia.",
        "flight_period": "Painted ladies reach northern Europe in late spring and breed through the summer.",
        "life_cycle": "The painted lady cannot survive cold winters and recolonises the north each year.",
        "conservation_status": None,
        "identification": "The painted lady is salmon orange with black blotches and white spots near the forewing tip.",
        "similar_species": [], "facts": ["Painted ladies cross the Sahara on a yearly migration of up to 12,000 km."],
    },
    {
        "label": "ATLAS MOTH", "common_name": "Atlas moth", "other_names": [],
        "scientific_name": "Attacus atlas", "kind": "moth", "family": "Saturniidae",
        "subfamily": "Saturniinae", "genus": "Attacus", "wingspan_mm": {"min": 240, "max": 280},
        "distribution": "The atlas moth lives in the tropical forests of South and Southeast Asia.",
        "habitat": "The atlas moth lives in tropical and subtropical forests.",
        "larval_host_plants": "Atlas moth caterpillars eat the leaves of citrus, cinnamon and guava trees.",
        "adult_food": "The adult atlas moth has no working mouthparts and never feeds.",
        "flight_period": None, "life_cycle": "The adult atlas moth lives only one or two weeks on stored fat.",
        "conservation_status": None,
        "identification": "The atlas moth is reddish brown with triangular see-through windows on each wing.",
        "similar_species": [], "facts": ["The atlas moth is one of the largest moths in the world by wing area."],
    },
]

TOPIC = {
    "id": "migration", "title": "Migration",
    "sections": [{"heading": "Why butterflies migrate", "text": "Some butterflies migrate to escape winter cold. "
                  "Migrating butterflies follow seasonal flowers and host plants across continents."}],
}

for _entry in SPECIES:
    _entry["sources"] = ["A test reference: names and range"]
TOPIC["sources"] = ["A test reference: migration"]
LABELS = tuple(s["label"] for s in SPECIES)


def write_tiny_guide(root: Path) -> Path:
    """Write the tiny guide under ``root`` (species/ and topics/) and return ``root``."""
    (root / "species").mkdir(parents=True, exist_ok=True)
    (root / "topics").mkdir(parents=True, exist_ok=True)
    for entry in SPECIES:
        slug = entry["label"].lower().replace(" ", "-")
        (root / "species" / f"{slug}.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    (root / "topics" / "migration.yaml").write_text(yaml.safe_dump(TOPIC, sort_keys=False))
    return root


@pytest.fixture()
def tiny_guide_dir(tmp_path: Path) -> Path:
    """A fresh copy of the tiny guide in tmp."""
    return write_tiny_guide(tmp_path / "guide")


@pytest.fixture(scope="session")
def encoder():
    """The real MiniLM encoder, loaded once for the whole test session."""
    from butterflyer.chat.embed import get_encoder

    return get_encoder()


@pytest.fixture(scope="session")
def tiny_engine(tmp_path_factory: pytest.TempPathFactory, encoder):
    """A chat engine over the tiny guide, its index built once in tmp."""
    from butterflyer.chat.answer import ChatEngine
    from butterflyer.chat.guide import read_guide

    root = write_tiny_guide(tmp_path_factory.mktemp("tiny-guide"))
    return ChatEngine(guide=read_guide(root), encoder=encoder, index_root=tmp_path_factory.mktemp("chat-index"))
