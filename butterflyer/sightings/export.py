"""Sightings as CSV for a spreadsheet, or as a Darwin Core occurrence CSV for GBIF/iNaturalist tools.

Coordinates are left out unless asked for (``coordinates=True``); ``blur`` rounds
them to a grid (e.g. 0.1 degrees, about 11 km) and says so in
``dataGeneralizations`` with the matching ``coordinateUncertaintyInMeters``.
Photos the model called "not a butterfly" and nobody corrected are not Lepidoptera
occurrences, so the Darwin Core file skips them (the plain CSV keeps every row).

>>> to_dwc(store.latest(), catalog, coordinates=True, blur=0.1)
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from butterflyer.serve.catalog import Catalog
from butterflyer.sightings.errors import SightingInputError
from butterflyer.sightings.schema import Sighting

DWC_COLUMNS = ("occurrenceID", "basisOfRecord", "eventDate", "decimalLatitude", "decimalLongitude",
               "geodeticDatum", "coordinateUncertaintyInMeters", "dataGeneralizations", "scientificName",
               "taxonRank", "kingdom", "order", "family", "genus", "vernacularName", "identificationRemarks",
               "identificationVerificationStatus", "associatedMedia", "occurrenceRemarks")
CSV_COLUMNS = ("id", "created_at", "taken_at", "latitude", "longitude", "position_source", "verdict",
               "model_answer", "probability", "corrected_species", "species", "scientific_name", "model",
               "note", "file_name", "photo_sha256", "photo_kept")
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Determination:
    """What a sighting is, at the finest rank anyone (the observer, then the model) named it."""

    label: str | None
    scientific_name: str
    rank: str
    common_name: str | None
    genus: str | None
    family: str | None


def determine(row: Sighting, catalog: Catalog) -> Determination | None:
    """The observer's species first, then the model's answer; ``None`` for a not-a-butterfly photo."""
    label = row.species or row.model_species
    if label:
        info = catalog.get(label)
        return Determination(label, info.scientific_name or info.common_name, "species", info.common_name,
                             info.genus, info.family)
    if row.taxon_rank == "genus" and row.taxon_name:
        family = next((e.family for e in catalog.entries.values() if e.genus == row.taxon_name), None)
        return Determination(None, row.taxon_name, "genus", None, row.taxon_name, family)
    if row.taxon_rank == "family" and row.taxon_name:
        return Determination(None, row.taxon_name, "family", None, None, row.taxon_name)
    if row.verdict == "uncertain":
        return Determination(None, "Lepidoptera", "order", "butterflies and moths", None, None)
    return None


def model_remark(row: Sighting, catalog: Catalog) -> str:
    """The model's answer and probability, and what the observer did with it."""
    model = f"{row.model_name} v{row.model_version}"
    if row.model_species:
        answer = catalog.get(row.model_species).scientific_name or row.model_species
    elif row.taxon_name:
        answer = f"{row.taxon_rank} {row.taxon_name}"
    else:
        answer = row.verdict.replace("_", " ")
    prob = f" with probability {row.probability:.3f}" if row.probability is not None else ""
    top = row.top_k[0] if row.top_k else None
    if row.probability is None and top:  # uncertain/not-a-butterfly: the best guess it declined to make
        guess = top.get("scientific_name") or top.get("id")
        prob = f" (best guess {guess} at {float(top['probability']):.3f})"
    remark = f"identified by ButterFlyer model {model}: {answer}{prob}"
    if row.species and row.species != row.model_species:
        remark += f"; corrected by the observer to {catalog.get(row.species).scientific_name or row.species}"
    elif row.species:
        remark += "; confirmed by the observer"
    return remark


def check_blur(blur: float | None) -> float | None:
    if blur is None:
        return None
    if not (0.0 < blur <= 10.0) or not math.isfinite(blur):
        raise SightingInputError("blur is the grid size in degrees: more than 0 and at most 10 (e.g. 0.1)")
    return blur


def _blurred(value: float, grid: float) -> float:
    return round(round(value / grid) * grid, 6)


def _uncertainty(latitude: float, grid: float) -> int:
    """Metres from a grid point to its cell's farthest corner (the cell is narrower away from the equator)."""
    half_ns = grid / 2 * METRES_PER_DEGREE
    half_ew = half_ns * math.cos(math.radians(latitude))
    return math.ceil(math.hypot(half_ns, half_ew))


def _event_date(row: Sighting) -> str:
    return row.taken_at or ""


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive values; they were written as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def _safe_cell(text: str | None) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; a quote keeps user text as text."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@\t\r" else text


def to_dwc(rows: Iterable[Sighting], catalog: Catalog, *, coordinates: bool = False,
           blur: float | None = None, media_base: str = "") -> str:
    """A Darwin Core occurrence CSV (UTF-8, header row of term names)."""
    blur = check_blur(blur)
    out = io.StringIO()
    writer = csv.DictWriter(out, DWC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        what = determine(row, catalog)
        if what is None:
            continue
        record = {
            "occurrenceID": f"urn:uuid:{row.id}", "basisOfRecord": "HumanObservation",
            "eventDate": _event_date(row), "scientificName": what.scientific_name, "taxonRank": what.rank,
            "kingdom": "Animalia", "order": "Lepidoptera", "family": what.family or "",
            "genus": what.genus or "", "vernacularName": what.common_name or "",
            "identificationRemarks": model_remark(row, catalog),
            "identificationVerificationStatus": "verified by observer" if row.species else "unverified",
            "associatedMedia": f"{media_base.rstrip('/')}/v1/sightings/{row.id}/photo" if row.photo_type
            else "",
            "occurrenceRemarks": row.note or "",
        }
        if coordinates and row.latitude is not None and row.longitude is not None:
            lat, lon = row.latitude, row.longitude
            record["geodeticDatum"] = "WGS84"
            if blur:
                lat, lon = _blurred(lat, blur), _blurred(lon, blur)
                record["coordinateUncertaintyInMeters"] = str(_uncertainty(lat, blur))
                record["dataGeneralizations"] = f"coordinates rounded to {blur:g} degrees"
            record["decimalLatitude"], record["decimalLongitude"] = f"{lat:.6f}", f"{lon:.6f}"
        writer.writerow(record)
    return out.getvalue()


def to_csv(rows: Iterable[Sighting], catalog: Catalog, *, coordinates: bool = False,
           blur: float | None = None) -> str:
    """One line per sighting with every stored field (positions only when asked)."""
    blur = check_blur(blur)
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        what = determine(row, catalog)
        lat = lon = ""
        if coordinates and row.latitude is not None and row.longitude is not None:
            la, lo = (row.latitude, row.longitude) if not blur else (_blurred(row.latitude, blur),
                                                                      _blurred(row.longitude, blur))
            lat, lon = f"{la:.6f}", f"{lo:.6f}"
        writer.writerow({
            "id": row.id, "created_at": _iso(row.created_at), "taken_at": row.taken_at or "",
            "latitude": lat, "longitude": lon, "position_source": (row.position_source or "") if lat else "",
            "verdict": row.verdict,
            "model_answer": row.model_species or row.taxon_name or "",
            "probability": "" if row.probability is None else f"{row.probability:.4f}",
            "corrected_species": row.species or "",
            "species": (what.common_name or what.scientific_name) if what else "",
            "scientific_name": what.scientific_name if what else "",
            "model": f"{row.model_name} v{row.model_version}", "note": _safe_cell(row.note),
            "file_name": _safe_cell(row.file_name), "photo_sha256": row.photo_sha256,
            "photo_kept": "yes" if row.photo_type else "no",
        })
    return out.getvalue()
