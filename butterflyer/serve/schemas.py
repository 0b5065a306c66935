"""Response shapes shared by the API and ``butterflyer identify --json``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Verdict = Literal["species", "genus", "family", "uncertain", "unknown_species", "not_a_butterfly"]


class SpeciesGuess(BaseModel):
    id: str = Field(description="dataset label, e.g. MONARCH")
    common_name: str
    scientific_name: str | None = None
    probability: float


class Taxon(BaseModel):
    rank: Literal["genus", "family"]
    name: str
    common_name: str | None = None
    probability: float


class ModelRef(BaseModel):
    name: str
    version: str


class Gate(BaseModel):
    """How butterfly-like the ImageNet head finds the photo, and the bar it must clear."""

    score: float
    threshold: float


class IdentifyResult(BaseModel):
    """One image's answer. ``species`` is set only for a species verdict, ``taxon`` only for a roll-up.

    ``unknown_species``: a butterfly or moth, but unlike all the species the model knows, and no
    genus or family it could name with confidence.
    """

    verdict: Verdict
    species: SpeciesGuess | None = None
    taxon: Taxon | None = None
    top_k: list[SpeciesGuess]
    model: ModelRef
    latency_ms: float
    message: str = Field(description="the answer in one plain sentence")
    gate: Gate | None = None
    known_species: bool | None = Field(
        default=None,
        description="false when the photo is unlike the training photos of every species the model knows: "
                    "probably a species outside its labels (then a genus/family roll-up or "
                    "'unknown_species'); "
                    "null when the model has no open-set rule or the photo is not a butterfly")
    relatives: list[SpeciesGuess] = Field(
        default_factory=list,
        description="the known species whose training photos look most like this one, closest first "
                    "(probability: the model's for that species)")
    heatmap_png: str | None = Field(default=None,
                                    description="data: URL of a Grad-CAM-style overlay (explain=true)")
    file: str | None = None


class ErrorBody(BaseModel):
    """Every error the API returns: a short machine reason and a sentence saying how to fix it."""

    error: str
    detail: str


class SpeciesSummary(BaseModel):
    id: str
    common_name: str
    scientific_name: str | None = None
    genus: str | None = None
    family: str | None = None
    kind: str | None = None


class SpeciesCard(SpeciesSummary):
    subfamily: str | None = None
    family_common_name: str | None = None
    summary: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    in_model: bool = True


class SpeciesList(BaseModel):
    count: int
    species: list[SpeciesSummary]


class ModelInfo(BaseModel):
    """What is served: registry name and version, and the served file's sha256; never a server path."""

    name: str
    version: str
    uri: str = Field(description="the models:/ URI served, or '(local folder)' (paths stay private)")
    sha256: str = Field(description="sha256 of the ONNX file being served")
    architecture: str
    num_classes: int
    temperature: float
    gate_available: bool
    gate_kind: str
    thresholds: dict[str, float]
    gate_threshold: float | None
    loaded_at: float
