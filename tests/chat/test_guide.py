"""The field guide: schema validation errors, catalog helpers, and completeness of the real guide."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from butterflyer.chat.guide import dataset_labels, guide_problems, load_guide, read_guide, slugify, taxonomy
from butterflyer.errors import ChatError

TINY_LABELS = ("MONARCH", "VICEROY", "PAINTED LADY", "ATLAS MOTH")


def test_slugify_matches_schema_examples() -> None:
    assert slugify("AN 88") == "an-88"
    assert slugify("Iphiclus sister") == "iphiclus-sister"
    assert slugify("COMMON WOOD-NYMPH") == "common-wood-nymph"


def test_dataset_labels_packaged() -> None:
    labels = dataset_labels()
    assert len(labels) == 100 and len(set(labels)) == 100
    assert "APPOLLO" in labels and "Iphiclus sister" in labels


def test_tiny_guide_loads(tiny_guide_dir: Path) -> None:
    guide = read_guide(tiny_guide_dir)
    assert set(guide.species) == set(TINY_LABELS)
    assert guide.species["MONARCH"].wingspan_mm.max == 102
    assert guide.topics["migration"].sections[0].heading.startswith("Why")
    assert guide_problems(guide, labels=TINY_LABELS) == []
    assert "no entry" in guide_problems(guide, labels=(*TINY_LABELS, "ULYSES"))[0]


def test_content_hash_changes_with_text(tiny_guide_dir: Path) -> None:
    root = tiny_guide_dir
    before = read_guide(root).content_hash
    path = root / "species" / "monarch.yaml"
    data = yaml.safe_load(path.read_text())
    data["habitat"] = "The monarch uses open fields."
    path.write_text(yaml.safe_dump(data))
    assert read_guide(root).content_hash != before


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d.pop("family"), "field 'family'"),
        (lambda d: d.update(kind="bird"), "field 'kind'"),
        (lambda d: d.update(colour="orange"), "field 'colour'"),
        (lambda d: d.update(wingspan_mm={"min": 90, "max": 10}), "field 'wingspan_mm'"),
        (lambda d: d.update(similar_species=[{"label": "VICEROY"}]), "field 'similar_species.0.how_to_tell'"),
        (lambda d: d.update(label="VICEROY"), "belongs in viceroy.yaml"),
        (lambda d: d.update(habitat="  "), "field 'habitat'"),
    ],
)
def test_invalid_entry_names_file_and_field(tiny_guide_dir: Path, edit, needle: str) -> None:
    root = tiny_guide_dir
    path = root / "species" / "monarch.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ChatError) as info:
        read_guide(root)
    assert "monarch.yaml" in str(info.value) and needle in str(info.value)


def test_broken_yaml_is_a_clear_error(tiny_guide_dir: Path) -> None:
    root = tiny_guide_dir
    (root / "topics" / "bad.yaml").write_text("id: [unclosed\n")
    with pytest.raises(ChatError, match="bad.yaml: not valid YAML"):
        read_guide(root)


def test_dangling_similar_species_is_reported(tiny_guide_dir: Path) -> None:
    root = tiny_guide_dir
    path = root / "species" / "viceroy.yaml"
    data = yaml.safe_load(path.read_text())
    data["similar_species"][0]["label"] = "QUEEN"
    path.write_text(yaml.safe_dump(data))
    problems = guide_problems(read_guide(root), labels=TINY_LABELS)
    assert problems == ["viceroy.yaml: field 'similar_species.0.label': 'QUEEN' is not a dataset label"]


# --- the real, packaged guide (complete once the writers finish) ---

def test_real_guide_is_valid_and_complete() -> None:
    guide = load_guide()
    assert guide_problems(guide) == []
    assert set(guide.species) == set(dataset_labels())


def test_real_guide_has_general_topics() -> None:
    topics = load_guide().topics
    assert len(topics) >= 6, sorted(topics)


def test_taxonomy_rollup() -> None:
    guide = load_guide()
    if "MONARCH" not in guide.species:
        pytest.fail("MONARCH entry missing from the guide")
    assert taxonomy("MONARCH") == ("Danaus", "Nymphalidae")
    assert taxonomy("NOT A LABEL") is None
    for label, entry in guide.species.items():
        genus, family = taxonomy(label)
        if entry.label_holds:  # a mixed label claims no genus or family
            assert (genus, family) == (None, None), label
            continue
        assert entry.scientific_name.split()[0] == genus, label
        assert family is not None and family.endswith("idae"), label


def test_banded_peacock_is_a_mixed_label_and_rollup_claims_no_group() -> None:
    from butterflyer.serve.catalog import load_catalog

    entry = load_guide().species["BANDED PEACOCK"]
    held = {t.scientific_name: t.family for t in entry.label_holds or []}
    assert held["Papilio palinurus"] == "Papilionidae" and held["Anartia fatima"] == "Nymphalidae"
    assert "palinurus" in entry.identification.lower() or "swallowtail" in entry.identification.lower()
    catalog = load_catalog()
    assert catalog.genus("BANDED PEACOCK") is None and catalog.family("BANDED PEACOCK") is None
    assert catalog.genus("MONARCH") == "Danaus"


def test_every_entry_and_topic_lists_one_to_three_sources() -> None:
    guide = load_guide()
    for label, entry in guide.species.items():
        assert 1 <= len(entry.sources) <= 3, label
    for topic in guide.topics.values():
        assert 1 <= len(topic.sources) <= 3, topic.id


def test_sources_are_validated(tiny_guide_dir: Path) -> None:
    path = next((tiny_guide_dir / "species").glob("*.yaml"))
    data = yaml.safe_load(path.read_text())
    data["sources"] = ["a", "b", "c", "d"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ChatError, match="sources"):
        read_guide(tiny_guide_dir)


def test_mixed_label_must_not_claim_a_genus(tiny_guide_dir: Path) -> None:
    path = next((tiny_guide_dir / "species").glob("*.yaml"))
    data = yaml.safe_load(path.read_text())
    data["label_holds"] = [
        {"scientific_name": "Aa bb", "common_name": "A", "family": "Papilionidae", "genus": "Aa",
         "share": "most"},
        {"scientific_name": "Cc dd", "common_name": "C", "family": "Nymphalidae", "genus": "Cc",
         "share": "rest"}]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ChatError, match="mixed label"):
        read_guide(tiny_guide_dir)


def test_facts_fixed_by_the_fact_check() -> None:
    guide = load_guide()
    assert "4,500 to 4,800 kilometres" in " ".join(guide.species["MONARCH"].facts)
    assert "largest endemic butterfly" in " ".join(guide.species["CAIRNS BIRDWING"].facts)


def test_prose_lint_catches_dangling_pronoun(tiny_guide_dir: Path) -> None:
    from butterflyer.chat.lint import prose_issues

    path = tiny_guide_dir / "species" / "monarch.yaml"
    data = yaml.safe_load(path.read_text())
    data["habitat"] = ("It lives in fields with milkweed and flowers everywhere in summer. "
                       "See https://example.org now.")
    path.write_text(yaml.safe_dump(data))
    issues = prose_issues(read_guide(tiny_guide_dir))
    assert any("starts with a pronoun" in i for i in issues) and any("markup or link" in i for i in issues)


def test_real_guide_prose_and_questions_are_quotable() -> None:
    from butterflyer.chat.evaluate import load_questions
    from butterflyer.chat.lint import prose_issues, question_issues

    guide = load_guide()
    assert [i for i in prose_issues(guide) if "words:" not in i] == []
    assert question_issues(guide, load_questions()) == []
