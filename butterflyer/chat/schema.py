"""Pydantic models for the field guide (species entries, topics) and the chat eval questions.

The YAML format is fixed by the project (one file per dataset label under
``chat/guide/species/``, one per topic under ``chat/guide/topics/``); these models
are its single executable definition. Every key must be present (``null`` where
the writers were unsure) and unknown keys are rejected, so a typo in a field name
is an error rather than a silently missing fact.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def slugify(label: str) -> str:
    """File slug of a label: lower-case, each run of non-alphanumerics becomes ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


Text = str  # free prose; validated for emptiness below


def _not_blank(value: str | None, field: str) -> str | None:
    if value is not None and not value.strip():
        raise ValueError(f"{field} is empty; write the text or put null")
    return value


class Wingspan(_Strict):
    """Wingspan range in millimetres; ``min`` is null where references give only the largest size."""

    min: float | None = Field(gt=0, lt=400)
    max: float = Field(gt=0, lt=400)

    @model_validator(mode="after")
    def _ordered(self) -> Wingspan:
        if self.min is not None and self.min > self.max:
            raise ValueError(f"wingspan min {self.min} is larger than max {self.max}")
        return self


class SimilarSpecies(_Strict):
    """Another dataset label that is easily confused with this one."""

    label: str = Field(min_length=1)
    how_to_tell: str = Field(min_length=1)


def _check_sources(value: list[str]) -> list[str]:
    if not 1 <= len(value) <= 3:
        raise ValueError(f"{len(value)} sources; list 1 to 3 references the facts were checked against")
    if any(not v.strip() for v in value):
        raise ValueError("a source is empty; name the book, site or database")
    return value


class LabelTaxon(_Strict):
    """One of the unrelated species a mixed dataset label holds."""

    scientific_name: str = Field(min_length=1)
    common_name: str = Field(min_length=1)
    family: str = Field(pattern=r"^[A-Z][a-z]+$")
    genus: str = Field(pattern=r"^[A-Z][a-z]+$")
    share: str = Field(min_length=1, description="how much of the label it makes up, in words")


class SpeciesEntry(_Strict):
    """One field-guide entry, for one dataset label.

    ``label_holds`` is set only for a *mixed* label whose photos show species of different
    families (BANDED PEACOCK); then ``genus`` and ``family`` are null, so nothing rolls
    predictions of that label up into a genus or family it does not belong to.
    """

    label: str = Field(min_length=1)
    common_name: str = Field(min_length=1)
    other_names: list[str] = Field(default_factory=list)
    scientific_name: str = Field(min_length=1)
    kind: Literal["butterfly", "moth"]
    family: str | None
    subfamily: str | None
    genus: str | None
    wingspan_mm: Wingspan | None
    distribution: str = Field(min_length=1)
    habitat: str | None
    larval_host_plants: str | None
    adult_food: str | None
    flight_period: str | None
    life_cycle: str | None
    conservation_status: str | None
    identification: str = Field(min_length=1)
    similar_species: list[SimilarSpecies] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)
    sources: list[str]
    label_holds: list[LabelTaxon] | None = None

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        return _check_sources(value)

    @model_validator(mode="after")
    def _taxonomy(self) -> SpeciesEntry:
        if self.label_holds is not None:
            if len(self.label_holds) < 2:
                raise ValueError("label_holds lists the species of a mixed label; "
                                 "give at least two or use null")
            if self.genus is not None or self.family is not None or self.subfamily is not None:
                raise ValueError("a mixed label (label_holds) must have genus, family and subfamily null")
        elif self.genus is None or self.family is None:
            raise ValueError("genus and family are required (null only for a mixed label with label_holds)")
        return self

    @field_validator("habitat", "larval_host_plants", "adult_food", "flight_period", "life_cycle",
                     "conservation_status", "subfamily")
    @classmethod
    def _no_blank(cls, value: str | None, info) -> str | None:  # type: ignore[no-untyped-def]
        return _not_blank(value, info.field_name)

    @field_validator("facts")
    @classmethod
    def _facts_non_empty(cls, value: list[str]) -> list[str]:
        if any(not f.strip() for f in value):
            raise ValueError("a fact is empty; remove it")
        return value

    @field_validator("family", "genus")
    @classmethod
    def _capitalised(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z][a-z]+", value):
            raise ValueError(f"{value!r} is not a single capitalised Latin name (e.g. 'Nymphalidae')")
        return value

    @property
    def slug(self) -> str:
        """File slug of this entry."""
        return slugify(self.label)

    def names(self) -> list[str]:
        """Every name this species is known by: label, common, other and scientific names (for a mixed
        label, the scientific names of the species it holds)."""
        out: list[str] = []
        # a mixed label's scientific_name describes the mix; the species it holds are its names
        held = [t.scientific_name for t in self.label_holds] if self.label_holds else [self.scientific_name]
        for name in (self.label, self.common_name, *self.other_names, *held):
            if name.lower() not in {o.lower() for o in out}:
                out.append(name)
        return out


class TopicSection(_Strict):
    """One titled section of a general topic."""

    heading: str = Field(min_length=1)
    text: str = Field(min_length=1)


class Topic(_Strict):
    """A general topic (life cycle, mimicry, migration, ...)."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str = Field(min_length=1)
    sections: list[TopicSection] = Field(min_length=1)
    sources: list[str]

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        return _check_sources(value)


QuestionKind = Literal["typo", "pronoun", "description", "why", "name", "relation", "habitat", "fact",
                       "superlative", "topic", "not_covered", "not_in_guide", "off_topic"]


class EvalQuestion(_Strict):
    """One evaluation question with the fact a correct answer must contain.

    ``expect_any`` holds facts: a correct answer contains one of them (case- and
    accent-insensitive), or matches one written as ``re:<regex>``. ``about`` lists the
    entries an answer may draw on; citing any other species entry is a cross-species
    answer. ``mention`` is what a not-covered refusal must name (the species asked about).
    """

    question: str = Field(min_length=1)
    species: str | None = None
    expect_any: list[str] = Field(default_factory=list)
    refuse: bool = False
    kind: QuestionKind | None = None
    about: list[str] | None = None
    mention: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if self.refuse and self.expect_any:
            raise ValueError("a must-refuse question has expect_any; make it []")
        if not self.refuse and not self.expect_any:
            raise ValueError("an answerable question needs at least one expect_any substring")
        for pattern in self.expect_any:
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error as exc:
                    raise ValueError(f"expect_any {pattern!r} is not a valid regex ({exc})") from exc
        if self.mention is not None and not self.refuse:
            raise ValueError("mention is only for must-refuse questions; use expect_any")
        return self


class FieldGuide(BaseModel):
    """The whole guide: species entries by label, topics by id, and a content hash."""

    model_config = ConfigDict(frozen=True)

    species: dict[str, SpeciesEntry]
    topics: dict[str, Topic]
    content_hash: str

    def entry(self, label: str) -> SpeciesEntry:
        """The entry for ``label`` (exact dataset spelling)."""
        from butterflyer.errors import ChatError

        try:
            return self.species[label]
        except KeyError:
            raise ChatError(f"no field-guide entry for label {label!r}; known labels are the "
                            f"dataset's (see butterflyer/chat/guide/labels.txt)") from None
