"""Identify a folder of photos, resumably: a state file records every photo done.

``run_batch`` identifies each photo once, optionally saves it as a sighting, and
rewrites ``state.json`` atomically (temp file + rename) with the answers at most
every :data:`FLUSH_SECONDS` and when it stops, so a run killed at any moment (even
``kill -9``) continues where it stopped, redoing at most those seconds of work, and
never saves a photo twice (a photo whose sha256 is already a sighting is linked,
not saved again). The report and
the Darwin Core file are written from the state, so they cover every photo of
every run. Unsure and not-a-butterfly photos are kept in a "review" group, and
unreadable ones in their own, never dropped.

>>> outcome = run_batch(identifier, photos, state_dir=Path("out.batch"), store=SightingStore())
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from butterflyer.errors import DataError, ImageError
from butterflyer.fileio import atomic_write_bytes, atomic_write_json, read_json
from butterflyer.serve.identify import Identifier
from butterflyer.sightings.schema import Sighting
from butterflyer.sightings.store import SightingStore, build_sighting

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
STATE_VERSION = 1
# Each state write is an fsync (~40 ms on a busy disk, more than identifying a photo); writing
# every few seconds keeps the batch fast and loses at most that much work to a kill -9.
FLUSH_SECONDS = 2.0
REPORT_SIDE = 160
IDENTIFIED = ("species", "genus", "family")
COLUMNS = ("id", "photo_sha256", "file_name", "taken_at", "latitude", "longitude", "position_source",
           "verdict", "model_species", "taxon_rank", "taxon_name", "probability", "top_k", "model_name",
           "model_version", "species", "note")

Progress = Callable[[int, int, str], None]


@dataclass
class BatchOutcome:
    """Every photo's entry (in file order), and how many this run identified."""

    items: list[dict[str, Any]]
    state_dir: Path
    done_now: int = 0
    resumed: int = 0
    saved: int = 0
    groups: dict[str, int] = field(default_factory=dict)


def group_of(item: dict[str, Any]) -> str:
    """``identified``, ``review`` (unsure or not a butterfly) or ``unreadable``."""
    if item.get("error"):
        return "unreadable"
    return "identified" if item.get("verdict") in IDENTIFIED else "review"


def as_sighting(item: dict[str, Any]) -> Sighting:
    """A detached row from a state entry (for the Darwin Core export of a run that saved nothing)."""
    values = {key: item.get(key) for key in COLUMNS}
    created = item.get("created_at")
    values["created_at"] = datetime.fromisoformat(created) if created else datetime.now(UTC)
    return Sighting(**values)


def _load_state(state_dir: Path, model_ref: str) -> dict[str, dict[str, Any]]:
    path = state_dir / STATE_FILE
    if not path.is_file():
        return {}
    try:
        state = read_json(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is unreadable ({exc}); delete it to start the batch again") from exc
    if state.get("version") != STATE_VERSION or state.get("model") != model_ref:
        log.warning("%s was made by another model (%s); starting again", path, state.get("model"))
        return {}
    return dict(state.get("items") or {})


def run_batch(identifier: Identifier, photos: Sequence[Path], state_dir: Path, *, root: Path | None = None,
              store: SightingStore | None = None, keep_photo: bool = False,
              progress: Progress | None = None) -> BatchOutcome:
    """Identify ``photos`` (resuming from ``state_dir``); save each as a sighting when ``store`` is given.

    Keys in the state are paths relative to ``root`` (the folder given), so the same folder
    resumes even when called from elsewhere.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "thumbs").mkdir(exist_ok=True)
    model_ref = f"{identifier.model.name} v{identifier.model.version}"
    items = _load_state(state_dir, model_ref)
    outcome = BatchOutcome(items=[], state_dir=state_dir)
    keys = [_key(path, root) for path in photos]
    outcome.resumed = sum(key in items for key in keys)

    def flush() -> None:
        state = {"version": STATE_VERSION, "model": model_ref, "items": items}
        atomic_write_json(state_dir / STATE_FILE, state)

    last_flush, unflushed = time.monotonic(), False
    try:
        for index, (path, key) in enumerate(zip(photos, keys, strict=True)):
            if key not in items or (store is not None and not items[key].get("saved") and
                                    not items[key].get("error")):
                items[key] = _one(identifier, path, key, state_dir, store, keep_photo)
                outcome.done_now += 1
                unflushed = True
                if time.monotonic() - last_flush >= FLUSH_SECONDS:
                    flush()
                    last_flush, unflushed = time.monotonic(), False
            if progress is not None:
                progress(index + 1, len(photos), key)
    finally:  # Ctrl-C or an error: keep what is done (a kill -9 loses at most FLUSH_SECONDS)
        if unflushed:
            flush()
    outcome.items = [items[key] for key in keys]
    outcome.saved = sum(1 for item in outcome.items if item.get("saved"))
    for item in outcome.items:
        outcome.groups[group_of(item)] = outcome.groups.get(group_of(item), 0) + 1
    return outcome


def _small(thumbnail: bytes, side: int = REPORT_SIDE) -> bytes:
    """The report's copy of a thumbnail: small, since the report embeds every one."""
    img = Image.open(io.BytesIO(thumbnail))
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=75)
    return out.getvalue()


def _key(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path.resolve())


def _one(identifier: Identifier, path: Path, key: str, state_dir: Path, store: SightingStore | None,
         keep_photo: bool) -> dict[str, Any]:
    """Identify (and save) one photo; an unreadable one becomes an entry with its reason."""
    try:
        data = path.read_bytes()
        result = identifier.identify_bytes(data, file=key)
        row = build_sighting(data, result, keep_photo=keep_photo, file_name=key, limits=identifier.limits)
    except (ImageError, OSError) as exc:
        reason = exc.reason if isinstance(exc, ImageError) else "unreadable"
        return {"file_name": key, "error": reason, "detail": str(exc)[:300]}
    sha = hashlib.sha256(data).hexdigest()
    atomic_write_bytes(state_dir / "thumbs" / f"{sha}.jpg", _small(row.thumbnail))
    saved = False
    if store is not None:
        existing = store.find_by_sha256(sha)
        if existing:  # saved before the last interruption, or earlier from the page: link, don't repeat
            row.id = existing[0].id
        else:
            store.add_row(row)
        saved = True
    item = {key_: getattr(row, key_) for key_ in COLUMNS}
    item.update(created_at=row.created_at.isoformat(), saved=saved, message=result.message,
                common_name=(result.species.common_name if result.species else
                             result.taxon.common_name or result.taxon.name if result.taxon else None))
    return item
