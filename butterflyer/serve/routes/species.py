"""``GET /v1/species`` and ``GET /v1/species/{id}``: names, taxonomy and the field-guide summary."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from butterflyer.serve.catalog import FAMILY_COMMON_NAMES, Catalog, SpeciesInfo, load_catalog
from butterflyer.serve.deps import HolderDep
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.schemas import ErrorBody, SpeciesCard, SpeciesList, SpeciesSummary

router = APIRouter(prefix="/v1", tags=["species"])


def _labels(holder: ModelHolder, catalog: Catalog) -> list[str]:
    if holder.ready:
        return list(holder.get().model.meta.labels)
    return sorted(catalog.entries)


def _catalog(holder: ModelHolder) -> Catalog:
    return holder.get().catalog if holder.ready else load_catalog()


def _summary(info: SpeciesInfo) -> SpeciesSummary:
    return SpeciesSummary(id=info.id, common_name=info.common_name, scientific_name=info.scientific_name,
                          genus=info.genus, family=info.family, kind=info.kind)


@router.get("/species", response_model=SpeciesList, summary="Every species the model knows")
def list_species(holder: HolderDep) -> SpeciesList:
    catalog = _catalog(holder)
    items = [_summary(catalog.get(label)) for label in _labels(holder, catalog)]
    return SpeciesList(count=len(items), species=items)


@router.get("/species/{species_id}", response_model=SpeciesCard, responses={404: {"model": ErrorBody}},
            summary="One species: names, taxonomy, field-guide summary")
def species_card(species_id: str, holder: HolderDep) -> SpeciesCard:
    catalog = _catalog(holder)
    labels = _labels(holder, catalog)
    if species_id not in labels and species_id not in catalog:
        raise HTTPException(404, {"error": "unknown_species",
                                  "detail": f"no species with id {species_id!r}; GET /v1/species lists them"})
    info = catalog.get(species_id)
    return SpeciesCard(**_summary(info).model_dump(), subfamily=info.subfamily,
                       family_common_name=FAMILY_COMMON_NAMES.get(info.family or ""), summary=info.summary,
                       details=info.details, in_model=species_id in labels)
