"""``/v1/sightings``: save an identified photo on request, list, correct, export and delete sightings.

``POST /v1/sightings`` takes the photo exactly like ``POST /v1/identify`` (same
size limit and sniffing), identifies it on the server (a client cannot write a
verdict of its own) and stores it; options are query parameters, so they work with
a multipart form and with a raw image body alike. Nothing is stored by any other
route. Exports leave coordinates out unless ``coordinates=true``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import HTTPException
from pydantic import BaseModel, Field

from butterflyer.serve.catalog import Catalog, load_catalog
from butterflyer.serve.deps import HolderDep, SettingsDep
from butterflyer.serve.errors import Busy
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.routes.identify import _ERRORS, _UPLOAD_DOC, read_upload
from butterflyer.serve.schemas import ErrorBody, ModelRef
from butterflyer.sightings.errors import SightingInputError, SightingNotFound, SightingsUnavailable
from butterflyer.sightings.export import determine, to_csv, to_dwc
from butterflyer.sightings.schema import Sighting
from butterflyer.sightings.store import Position, SightingStore, check_note, check_species

router = APIRouter(prefix="/v1", tags=["sightings"])
_STORE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such sighting"},
    422: {"model": ErrorBody, "description": "a value cannot be stored"},
    503: {"model": ErrorBody, "description": "the sightings database is unavailable"},
}


class Shown(BaseModel):
    """What the sighting is, at the finest rank named (observer first, then the model)."""

    label: str | None
    name: str
    scientific_name: str
    rank: str


class SightingOut(BaseModel):
    id: str
    created_at: str
    taken_at: str | None
    latitude: float | None
    longitude: float | None
    position_source: str | None
    verdict: str
    model_species: str | None
    taxon_rank: str | None
    taxon_name: str | None
    probability: float | None
    top_k: list[dict[str, Any]]
    model: ModelRef
    species: str | None = Field(description="the observer's confirmed or corrected label")
    note: str | None
    file_name: str | None
    photo_sha256: str
    shown: Shown | None
    thumbnail_url: str
    photo_url: str | None


class SightingList(BaseModel):
    count: int
    sightings: list[SightingOut]


class SightingPatch(BaseModel):
    """Only the fields sent change; ``species: null`` clears a correction, both positions null remove it."""

    species: str | None = None
    note: str | None = Field(None, max_length=2000)
    latitude: float | None = None
    longitude: float | None = None


@contextmanager
def _store_errors() -> Iterator[None]:
    """The store's errors as short HTTP answers (the handlers only know the identify errors)."""
    try:
        yield
    except SightingNotFound as exc:
        raise HTTPException(404, {"error": "unknown_sighting", "detail": str(exc)}) from exc
    except SightingInputError as exc:
        raise HTTPException(422, {"error": "invalid_sighting", "detail": str(exc)}) from exc
    except SightingsUnavailable as exc:
        raise HTTPException(503, {"error": "sightings_unavailable", "detail": str(exc)}) from exc


def _store(request: Request) -> SightingStore:
    """One store per app, opened (and migrated) on first use, not at startup."""
    state = request.app.state
    store = getattr(state, "sightings", None)
    if store is None:
        with _store_errors():
            store = state.sightings = SightingStore()
    return store


def _catalog(holder: ModelHolder) -> Catalog:
    return holder.get().catalog if holder.ready else load_catalog()


def _known(holder: ModelHolder) -> set[str] | None:
    labels = set(_catalog(holder).entries)
    if holder.ready:
        labels |= set(holder.get().model.meta.labels)
    return labels or None


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat(timespec="seconds")


def _out(row: Sighting, catalog: Catalog) -> SightingOut:
    what = determine(row, catalog)
    shown = None if what is None else Shown(label=what.label, name=what.common_name or what.scientific_name,
                                            scientific_name=what.scientific_name, rank=what.rank)
    return SightingOut(
        id=row.id, created_at=_iso(row.created_at), taken_at=row.taken_at, latitude=row.latitude,
        longitude=row.longitude, position_source=row.position_source, verdict=row.verdict,
        model_species=row.model_species, taxon_rank=row.taxon_rank, taxon_name=row.taxon_name,
        probability=row.probability, top_k=row.top_k, model=ModelRef(name=row.model_name,
                                                                     version=row.model_version),
        species=row.species, note=row.note, file_name=row.file_name, photo_sha256=row.photo_sha256,
        shown=shown, thumbnail_url=f"/v1/sightings/{row.id}/thumbnail",
        photo_url=f"/v1/sightings/{row.id}/photo" if row.photo_type else None)


@router.get("/sightings", response_model=SightingList, responses=_STORE_ERRORS, summary="Saved sightings")
def list_sightings(request: Request, holder: HolderDep, limit: int = Query(100, ge=1, le=1000),
                   offset: int = Query(0, ge=0)) -> SightingList:
    store = _store(request)
    with _store_errors():
        rows, total = store.latest(limit, offset), store.count()
    catalog = _catalog(holder)
    return SightingList(count=total, sightings=[_out(r, catalog) for r in rows])


@router.post("/sightings", response_model=SightingOut, status_code=201, openapi_extra=_UPLOAD_DOC,
             responses={**_ERRORS, **_STORE_ERRORS}, summary="Identify a photo and save it as a sighting")
async def create_sighting(
        request: Request, settings: SettingsDep, holder: HolderDep,
        keep_photo: bool = Query(False, description="also keep the original photo (with its EXIF)"),
        latitude: float | None = Query(None, description="where it was seen (overrides the photo's GPS)"),
        longitude: float | None = Query(None),
        note: str | None = Query(None, max_length=2000),
        species: str | None = Query(None, description="the observer's own identification (a label)"),
) -> SightingOut:
    with _store_errors():  # refuse bad values before the upload is read or identified
        Position.of(latitude, longitude)
        check_note(note)
        check_species(species, _known(holder))
    data, name = await read_upload(request, settings.max_upload_bytes)
    store = await anyio.to_thread.run_sync(functools.partial(_store, request))
    identifier = holder.get()
    limiter = request.app.state.limiter
    if limiter.statistics().tasks_waiting >= settings.max_queue:
        raise Busy(f"{settings.max_queue} photos are already waiting; try again in a moment")

    def identify_and_save() -> Sighting:
        result = identifier.identify_bytes(data, file=name)
        return store.add(data, result, keep_photo=keep_photo, latitude=latitude, longitude=longitude,
                         note=note, species=species, file_name=name, limits=identifier.limits)

    with _store_errors():
        row = await anyio.to_thread.run_sync(identify_and_save, limiter=limiter)
    return _out(row, identifier.catalog)


@router.get("/sightings/export", responses=_STORE_ERRORS, response_class=Response,
            summary="All sightings as CSV or as a Darwin Core occurrence CSV")
def export_sightings(request: Request, holder: HolderDep,
                     format: Literal["csv", "dwc"] = Query("csv", description="csv or dwc (Darwin Core)"),
                     coordinates: bool = Query(False, description="include positions"),
                     blur: float | None = Query(None, gt=0, le=10,
                                                description="round positions to this grid, in degrees")
                     ) -> Response:
    store = _store(request)
    catalog = _catalog(holder)
    with _store_errors():
        rows = _all(store)
        if format == "dwc":
            base = str(request.base_url).rstrip("/")
            text = to_dwc(rows, catalog, coordinates=coordinates, blur=blur, media_base=base)
        else:
            text = to_csv(rows, catalog, coordinates=coordinates, blur=blur)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = f"sightings-{'dwc-occurrence' if format == 'dwc' else 'all'}-{stamp}.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


def _all(store: SightingStore) -> list[Sighting]:
    rows: list[Sighting] = []
    while True:
        page = store.latest(1000, len(rows))
        rows.extend(page)
        if len(page) < 1000:
            return rows


@router.get("/sightings/{sighting_id}", response_model=SightingOut, responses=_STORE_ERRORS,
            summary="One sighting")
def get_sighting(sighting_id: str, request: Request, holder: HolderDep) -> SightingOut:
    store = _store(request)
    with _store_errors():
        row = store.get(sighting_id)
    return _out(row, _catalog(holder))


@router.patch("/sightings/{sighting_id}", response_model=SightingOut, responses=_STORE_ERRORS,
              summary="Confirm or correct the species, edit the note or the position")
def patch_sighting(sighting_id: str, body: SightingPatch, request: Request, holder: HolderDep) -> SightingOut:
    store = _store(request)
    changes = {key: getattr(body, key) for key in body.model_fields_set}
    with _store_errors():
        row = store.update(sighting_id, changes, known_species=_known(holder))
    return _out(row, _catalog(holder))


@router.delete("/sightings/{sighting_id}", status_code=204, response_class=Response, responses=_STORE_ERRORS,
               summary="Delete a sighting with its thumbnail and photo")
def delete_sighting(sighting_id: str, request: Request) -> Response:
    store = _store(request)
    with _store_errors():
        store.delete(sighting_id)
    return Response(status_code=204)


@router.get("/sightings/{sighting_id}/thumbnail", response_class=Response, responses=_STORE_ERRORS,
            summary="The sighting's thumbnail (JPEG, no metadata)")
def sighting_thumbnail(sighting_id: str, request: Request) -> Response:
    store = _store(request)
    with _store_errors():
        row = store.get(sighting_id, with_media=True)
    return Response(row.thumbnail, media_type="image/jpeg", headers={"Cache-Control": "private, no-cache"})


@router.get("/sightings/{sighting_id}/photo", response_class=Response, responses=_STORE_ERRORS,
            summary="The original photo, when it was kept")
def sighting_photo(sighting_id: str, request: Request) -> Response:
    store = _store(request)
    with _store_errors():
        row = store.get(sighting_id, with_media=True)
    if row.photo is None:
        raise HTTPException(404, {"error": "no_photo", "detail": "only a thumbnail was kept for this "
                                  "sighting; save with keep_photo=true to keep the photo"})
    return Response(row.photo, media_type=row.photo_type or "application/octet-stream",
                    headers={"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"})
