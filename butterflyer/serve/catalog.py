"""Names and taxonomy for labels, read from the field guide when it is installed.

The field guide (``butterflyer.chat.guide.load_guide``) maps each dataset label
to common and scientific names, genus, family and a summary (the first sentence of the
entry's identification text; the guide has no separate summary field). A mixed label
(``label_holds``) has no genus or family, so the roll-up never claims one for it. Labels it does not
know (synthetic test models, a newer dataset) still work: the label is the name
and there is no taxonomy, so no roll-up above species.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the guide is optional for identification: no import at run time
    from butterflyer.chat.schema import SpeciesEntry

log = logging.getLogger(__name__)

# Everyday English names for the Lepidoptera families, used in honest roll-up wording.
FAMILY_COMMON_NAMES = {
    "Papilionidae": "swallowtails", "Pieridae": "whites and sulphurs",
    "Nymphalidae": "brush-footed butterflies",
    "Lycaenidae": "gossamer-winged butterflies", "Riodinidae": "metalmarks", "Hesperiidae": "skippers",
    "Saturniidae": "giant silk moths", "Sphingidae": "hawk moths", "Erebidae": "erebid moths",
    "Noctuidae": "owlet moths", "Geometridae": "geometer moths", "Zygaenidae": "burnet moths",
    "Lasiocampidae": "lappet moths", "Bombycidae": "silk moths", "Uraniidae": "uraniid moths",
    "Castniidae": "castniid moths", "Arctiidae": "tiger moths", "Notodontidae": "prominent moths",
}


@dataclass(frozen=True)
class SpeciesInfo:
    """What the app shows about one label."""

    id: str
    common_name: str
    scientific_name: str | None = None
    genus: str | None = None
    family: str | None = None
    subfamily: str | None = None
    kind: str | None = None
    summary: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def in_guide(self) -> bool:
        return self.scientific_name is not None


class Catalog:
    """Look-ups by label; unknown labels fall back to the label itself."""

    def __init__(self, entries: dict[str, SpeciesInfo] | None = None) -> None:
        self.entries = dict(entries or {})

    def get(self, label: str) -> SpeciesInfo:
        found = self.entries.get(label)
        if found is not None:
            return found
        return SpeciesInfo(id=label, common_name=_title(label))

    def genus(self, label: str) -> str | None:
        return self.get(label).genus

    def family(self, label: str) -> str | None:
        return self.get(label).family

    def __contains__(self, label: object) -> bool:
        return label in self.entries


def _title(label: str) -> str:
    return label if not label.isupper() else label.title()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value) or None
    return str(value) or None


DETAIL_FIELDS = ("other_names", "identification", "distribution", "habitat", "larval_host_plants",
                 "adult_food", "flight_period", "wingspan_mm", "conservation_status", "similar_species",
                 "facts", "sources", "label_holds")


def _plain(value: Any) -> Any:
    """Guide values (pydantic models, lists of them) as JSON-ready data."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _first_sentence(text: str | None) -> str | None:
    if not text:
        return None
    from butterflyer.chat.text import split_sentences

    return split_sentences(text)[0]


def _from_guide_entry(label: str, entry: SpeciesEntry) -> SpeciesInfo:
    """A guide entry as the app shows it; the first sentence of its identification text is the summary."""
    details: dict[str, Any] = {}
    for key in DETAIL_FIELDS:
        value = _plain(getattr(entry, key))
        if value:
            details[key] = value
    return SpeciesInfo(
        id=label,
        common_name=entry.common_name or _title(label),
        scientific_name=entry.scientific_name,
        genus=entry.genus,
        family=entry.family,
        subfamily=entry.subfamily,
        kind=entry.kind,
        summary=_first_sentence(entry.identification),
        details=details,
    )


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The field guide as a :class:`Catalog`, or an empty one when the guide is not available."""
    try:
        from butterflyer.chat.guide import load_guide
    except ImportError:
        log.info("field guide not installed: species are shown by label, without roll-up")
        return Catalog()
    try:
        guide = load_guide()
        return Catalog({label: _from_guide_entry(label, entry) for label, entry in guide.species.items()})
    except Exception as exc:  # the guide is optional for identification; never fail serving over it
        log.warning("field guide could not be loaded (%s); species are shown by label", exc)
        return Catalog()
