"""The field guide shipped in the package: loading, validation and the species catalog.

``load_guide()`` reads every ``species/*.yaml`` and ``topics/*.yaml`` in this folder,
validates them against :mod:`butterflyer.chat.schema` and returns a cached
:class:`FieldGuide`. Any invalid file raises :class:`~butterflyer.errors.ChatError`
naming the file and the field. ``taxonomy(label)`` gives ``(genus, family)`` for the
identification roll-up. ``guide_problems()`` lists what is missing for a complete
guide (labels without an entry, dangling similar-species references).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from butterflyer.chat.schema import FieldGuide, SpeciesEntry, Topic, slugify
from butterflyer.errors import ChatError

GUIDE_DIR = Path(__file__).resolve().parent

__all__ = ["GUIDE_DIR", "FieldGuide", "SpeciesEntry", "Topic", "dataset_labels", "guide_problems",
           "load_guide", "read_guide", "slugify", "taxonomy"]


@lru_cache(maxsize=1)
def dataset_labels() -> tuple[str, ...]:
    """The 100 dataset labels, in the dataset's own spelling (from ``labels.txt``)."""
    lines = (GUIDE_DIR / "labels.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


def _format_error(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(file)"
        parts.append(f"{path.name}: field '{where}': {err['msg']}")
    return "\n".join(parts)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ChatError(f"{path.name}: not valid YAML ({exc}); fix the syntax") from exc


def read_guide(root: str | Path | None = None) -> FieldGuide:
    """Read and validate the guide under ``root`` (default: the packaged guide), uncached.

    Raises ``ChatError`` listing every invalid file and field at once.
    """
    base = Path(root) if root is not None else GUIDE_DIR
    errors: list[str] = []
    digest = hashlib.sha256()
    species: dict[str, SpeciesEntry] = {}
    for path in sorted((base / "species").glob("*.yaml")):
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        try:
            data = _read_yaml(path)
            entry = SpeciesEntry.model_validate(data)
        except ChatError as exc:
            errors.append(str(exc))
            continue
        except ValidationError as exc:
            errors.append(_format_error(path, exc))
            continue
        if path.stem != entry.slug:
            errors.append(f"{path.name}: field 'label': {entry.label!r} belongs in {entry.slug}.yaml")
        elif entry.label in species:
            errors.append(f"{path.name}: field 'label': {entry.label!r} is defined twice")
        else:
            species[entry.label] = entry
    topics: dict[str, Topic] = {}
    for path in sorted((base / "topics").glob("*.yaml")):
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        try:
            topic = Topic.model_validate(_read_yaml(path))
        except ChatError as exc:
            errors.append(str(exc))
            continue
        except ValidationError as exc:
            errors.append(_format_error(path, exc))
            continue
        if topic.id in topics:
            errors.append(f"{path.name}: field 'id': topic {topic.id!r} is defined twice")
        topics[topic.id] = topic
    if errors:
        raise ChatError(f"the field guide under {base} is invalid:\n" + "\n".join(errors))
    return FieldGuide(species=species, topics=topics, content_hash=digest.hexdigest())


@lru_cache(maxsize=1)
def load_guide() -> FieldGuide:
    """The packaged field guide, validated once per process (see :func:`read_guide`)."""
    return read_guide()


def taxonomy(label: str) -> tuple[str | None, str | None] | None:
    """``(genus, family)`` of a dataset label, or ``None`` when the guide has no entry for it; both
    parts are ``None`` for a mixed label (its photos span several families)."""
    entry = load_guide().species.get(label)
    return (entry.genus, entry.family) if entry else None


def guide_problems(guide: FieldGuide | None = None, labels: tuple[str, ...] | None = None) -> list[str]:
    """What keeps ``guide`` from being complete: missing labels, unknown labels, dangling references."""
    guide = guide or load_guide()
    labels = labels if labels is not None else dataset_labels()
    known = set(labels)
    problems = [f"label {lab!r} has no entry ({slugify(lab)}.yaml)"
                for lab in labels if lab not in guide.species]
    for label, entry in guide.species.items():
        if label not in known:
            problems.append(f"{entry.slug}.yaml: field 'label': {label!r} is not a dataset label")
        for i, sim in enumerate(entry.similar_species):
            if sim.label not in known:
                problems.append(f"{entry.slug}.yaml: field 'similar_species.{i}.label': "
                                f"{sim.label!r} is not a dataset label")
            elif sim.label == label:
                problems.append(f"{entry.slug}.yaml: field 'similar_species.{i}.label': refers to itself")
    return problems
