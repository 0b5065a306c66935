"""Cut the field guide into retrievable chunks: one per entry section, made of citable sentences.

A chunk is one section of one entry (a species' ``habitat``, one ``similar_species``
comparison, one topic section). Its sentences are the citation units: answers quote
them one by one. Structured fields (names, taxonomy, wingspan) become short generated
sentences so that "what family is the monarch in?" is answered like any other question.
"""

from __future__ import annotations

from dataclasses import dataclass

from butterflyer.chat.schema import FieldGuide, SpeciesEntry, Topic
from butterflyer.chat.text import split_sentences

# Prose fields of a species entry, in reading order, with their display titles.
PROSE_SECTIONS: dict[str, str] = {
    "distribution": "Distribution",
    "habitat": "Habitat",
    "larval_host_plants": "Larval host plants",
    "adult_food": "Adult food",
    "flight_period": "Flight period",
    "life_cycle": "Life cycle",
    "conservation_status": "Conservation status",
    "identification": "Identification",
}
SECTION_TITLES: dict[str, str] = {
    "overview": "Names and classification",
    "wingspan": "Wingspan",
    **PROSE_SECTIONS,
    "similar_species": "Similar species",
    "facts": "Notable facts",
}


@dataclass(frozen=True)
class Chunk:
    """One retrievable section. ``entry`` is a dataset label or a topic id."""

    id: str
    entry: str
    entry_kind: str  # "species" | "topic"
    entry_title: str
    section: str
    section_title: str
    sentences: tuple[str, ...]
    other: str | None = None  # for similar_species: the other label

    @property
    def text(self) -> str:
        """The section's prose."""
        return " ".join(self.sentences)

    @property
    def search_text(self) -> str:
        """Text that is embedded and BM25-indexed: entry and section titles give context."""
        return f"{self.entry_title}. {self.section_title}: {self.text}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _overview(entry: SpeciesEntry) -> list[str]:
    name = entry.common_name
    if entry.label_holds:
        held = "; ".join(f"{t.scientific_name} ({t.common_name}, family {t.family})"
                         for t in entry.label_holds)
        kinds = "butterflies" if entry.kind == "butterfly" else "moths"
        out = [f"The dataset label {entry.label} is a mixed label of {kinds} from different families: "
               f"{held}."]
        return out + ([f"The {name} is also known as {', '.join(entry.other_names)}."]
                      if entry.other_names else [])
    sub = f", subfamily {entry.subfamily}" if entry.subfamily else ""
    out = [f"The {name} ({entry.scientific_name}) is a {entry.kind} in the family {entry.family}{sub}, "
           f"genus {entry.genus}."]
    if entry.other_names:
        out.append(f"The {name} is also known as {', '.join(entry.other_names)}.")
    if entry.label.lower() != name.lower():
        out.append(f"The dataset label {entry.label} refers to the {name}.")
    return out


def species_chunks(entry: SpeciesEntry, titles: dict[str, str]) -> list[Chunk]:
    """All chunks of one species entry; ``titles`` maps labels to common names (for comparisons)."""
    label, title = entry.label, entry.common_name

    def make(section: str, sentences: list[str], suffix: str = "", other: str | None = None,
             section_title: str | None = None) -> Chunk:
        return Chunk(id=f"{label}::{section}{suffix}", entry=label, entry_kind="species", entry_title=title,
                     section=section, section_title=section_title or SECTION_TITLES[section],
                     sentences=tuple(sentences), other=other)

    chunks = [make("overview", _overview(entry))]
    if entry.wingspan_mm is not None:
        span = entry.wingspan_mm
        size = (f"of about {_num(span.min)} to {_num(span.max)} mm" if span.min is not None
                else f"of up to {_num(span.max)} mm")
        chunks.append(make("wingspan", [f"The {title} has a wingspan {size}."]))
    for field in PROSE_SECTIONS:
        value = getattr(entry, field)
        if value:
            chunks.append(make(field, split_sentences(value)))
    for sim in entry.similar_species:
        other_title = titles.get(sim.label, sim.label.title())
        chunks.append(make("similar_species", split_sentences(sim.how_to_tell), suffix=f":{sim.label}",
                           other=sim.label, section_title=f"Similar species: {other_title}"))
    if entry.facts:
        chunks.append(make("facts", [s for fact in entry.facts for s in split_sentences(fact)]))
    return chunks


def topic_chunks(topic: Topic) -> list[Chunk]:
    """One chunk per topic section."""
    return [Chunk(id=f"topic:{topic.id}::{i}", entry=topic.id, entry_kind="topic", entry_title=topic.title,
                  section=sec.heading, section_title=sec.heading, sentences=tuple(split_sentences(sec.text)))
            for i, sec in enumerate(topic.sections)]


def build_chunks(guide: FieldGuide) -> list[Chunk]:
    """Every chunk of the guide, species first (sorted by label), then topics (sorted by id)."""
    titles = {label: e.common_name for label, e in guide.species.items()}
    out: list[Chunk] = []
    for label in sorted(guide.species):
        out.extend(species_chunks(guide.species[label], titles))
    for topic_id in sorted(guide.topics):
        out.extend(topic_chunks(guide.topics[topic_id]))
    return out
