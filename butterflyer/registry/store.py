"""Register model folders in the MLflow Model Registry and move the aliases.

``register_model_dir`` logs a folder as the artifacts of a registration run and
adds a model version with lineage tags (idempotent: the same weights find the
existing version). ``promote`` moves ``champion`` and keeps a history on the
registered model so that ``rollback`` can step back to the previous champion.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from butterflyer.errors import RegistryError
from butterflyer.registry import CHALLENGER, CHAMPION, MODEL_NAME
from butterflyer.registry.client import get_client, registry_experiment_id, store_errors
from butterflyer.registry.lineage import flat_params, lineage_tags, metrics_from_tags
from butterflyer.registry.model_card import write_model_card

STACK_TAG = "champion_stack"
LOG_TAG = "champion_log"
MAX_HISTORY = 50


@dataclass
class VersionInfo:
    """A model version as the CLI and promotion see it."""

    name: str
    version: int
    source: str
    run_id: str | None
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0

    @property
    def metrics(self) -> dict[str, float]:
        return metrics_from_tags(self.tags)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "uri": self.uri, "source": self.source,
                "run_id": self.run_id, "aliases": self.aliases, "tags": self.tags, "metrics": self.metrics,
                "created": self.created}


def _info(mv: Any, aliases: dict[str, int] | None = None) -> VersionInfo:
    version = int(mv.version)
    names = sorted(a for a, v in (aliases or {}).items() if int(v) == version)
    if not names:
        names = sorted(getattr(mv, "aliases", []) or [])
    return VersionInfo(name=mv.name, version=version, source=mv.source, run_id=mv.run_id or None,
                       aliases=names, tags=dict(mv.tags or {}),
                       created=(mv.creation_timestamp or 0) / 1000.0)


def _is_missing(exc: Exception) -> bool:
    """MLflow's "no such registered model/version" (anything else is a real failure)."""
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


def _registered_model(client: Any, name: str) -> Any | None:
    """The registered model ``name``, or ``None`` when it was never registered."""
    from mlflow.exceptions import MlflowException

    try:
        with store_errors():
            return client.get_registered_model(name)
    except MlflowException as exc:
        if _is_missing(exc):
            return None
        raise


def _aliases(client: Any, name: str) -> dict[str, int]:
    rm = _registered_model(client, name)
    if rm is None:
        return {}
    return {alias: int(v) for alias, v in (rm.aliases or {}).items()}


def _ensure_registered_model(client: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
        return
    except MlflowException:
        pass
    try:
        client.create_registered_model(name, description="ButterFlyer species classifiers "
                                                         "(aliases: champion = served, challenger = newest)")
    except MlflowException:
        client.get_registered_model(name)  # created concurrently; anything else re-raises


def list_versions(name: str = MODEL_NAME) -> list[VersionInfo]:
    """All versions of ``name``, newest first (empty when it was never registered)."""
    client = get_client()
    aliases = _aliases(client, name)
    with store_errors():
        versions = client.search_model_versions(f"name='{name}'")
    return sorted((_info(mv, aliases) for mv in versions), key=lambda v: v.version, reverse=True)


def get_version(ref: str | int, name: str = MODEL_NAME) -> VersionInfo:
    """A version by number (``3``) or alias (``champion``); a clear error when absent."""
    from mlflow.exceptions import MlflowException

    client = get_client()
    aliases = _aliases(client, name)
    text = str(ref).strip()
    try:
        if text.isdigit():
            mv = client.get_model_version(name, text)
        else:
            mv = client.get_model_version_by_alias(name, text)
    except MlflowException as exc:
        known = ", ".join(f"{a}->v{v}" for a, v in sorted(aliases.items())) or "none"
        raise RegistryError(f"model {name!r} has no version or alias {text!r} (aliases: {known}); "
                            "see 'butterflyer models list'") from exc
    return _info(mv, aliases)


def alias_version(alias: str, name: str = MODEL_NAME) -> VersionInfo | None:
    """The version an alias points at, or ``None``."""
    aliases = _aliases(get_client(), name)
    if alias not in aliases:
        return None
    return get_version(aliases[alias], name)


def find_by_fingerprint(model_sha256: str, name: str = MODEL_NAME) -> VersionInfo | None:
    """The version whose weights have this fingerprint, if registered."""
    for info in list_versions(name):
        if info.tags.get("model_sha256") == model_sha256:
            return info
    return None


def register_model_dir(model_dir: str | Path, *, name: str = MODEL_NAME, report: str | Path | None = None,
                       extra_tags: dict[str, str] | None = None, alias: str | None = CHALLENGER
                       ) -> tuple[VersionInfo, bool]:
    """Register a saved model folder; returns ``(version, created)``.

    The folder (and the report file or folder, if given) is copied into the
    artifacts of a registration run that also records params and metrics. If the
    same weights are already registered, that version is returned and only
    ``alias`` moves.
    """
    from butterflyer.models.folder import resolve_model_folder

    folder = resolve_model_folder(model_dir)
    tags = lineage_tags(folder, report)
    write_model_card(folder)  # before the upload, so the registered artifacts carry it too
    tags.update(extra_tags or {})
    client = get_client()
    _ensure_registered_model(client, name)
    existing = find_by_fingerprint(tags["model_sha256"], name)
    if existing is not None:
        for key, value in tags.items():
            refreshed = key.startswith("metric.") or key in (extra_tags or {})
            if refreshed and existing.tags.get(key) != value:
                client.set_model_version_tag(name, str(existing.version), key, value)
        champion = _aliases(client, name).get(CHAMPION)
        if alias and not (alias == CHALLENGER and champion == existing.version):
            client.set_registered_model_alias(name, alias, str(existing.version))
        return get_version(existing.version, name), False

    from butterflyer.models.meta import ModelMeta

    meta = ModelMeta.load(folder)
    run = client.create_run(registry_experiment_id(client),
                            tags={"mlflow.runName": f"register-{meta.architecture}-{meta.stage}",
                                  "butterflyer.kind": "registration"})
    run_id = run.info.run_id
    try:
        for key, text in list(flat_params(meta.config).items())[:200]:
            client.log_param(run_id, key, text)
        for key, number in meta.metrics.items():
            client.log_metric(run_id, key, float(number))
        client.log_artifacts(run_id, str(folder), "model")
        if report and Path(report).exists():
            if Path(report).is_dir():
                client.log_artifacts(run_id, str(report), "report")
            else:
                client.log_artifact(run_id, str(report), "report")
        client.set_terminated(run_id)
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    source = f"{run.info.artifact_uri.rstrip('/')}/model"
    mv = client.create_model_version(name, source=source, run_id=run_id, tags=tags,
                                     description=f"{meta.architecture} ({meta.stage})")
    if alias:
        client.set_registered_model_alias(name, alias, str(mv.version))
    return get_version(int(mv.version), name), True


def _tag_json(name: str, tag: str) -> list[Any]:
    rm = _registered_model(get_client(), name)
    if rm is None:
        return []
    raw = (rm.tags or {}).get(tag)
    try:
        value = json.loads(raw) if raw else []
    except json.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def history(name: str = MODEL_NAME) -> list[dict[str, Any]]:
    """Past promotions and rollbacks, oldest first (action, version, previous, at, reason)."""
    return _tag_json(name, LOG_TAG)


def champion_stack(name: str = MODEL_NAME) -> list[int]:
    """Champions in promotion order; the last is the current one, ``rollback`` pops it."""
    return [int(v) for v in _tag_json(name, STACK_TAG)]


def _record(client: Any, name: str, stack: list[int], action: str, version: int, previous: int | None,
            reason: str) -> None:
    log = history(name)
    log.append({"action": action, "version": version, "previous": previous, "at": round(time.time(), 3),
                "reason": reason[:500]})
    client.set_registered_model_tag(name, STACK_TAG, json.dumps(stack[-MAX_HISTORY:]))
    client.set_registered_model_tag(name, LOG_TAG, json.dumps(log[-MAX_HISTORY:]))


def promote(version: str | int, *, name: str = MODEL_NAME, reason: str = "manual") -> VersionInfo:
    """Point ``champion`` at ``version`` and record it; clears ``challenger`` if it pointed there."""
    info = get_version(version, name)
    client = get_client()
    aliases = _aliases(client, name)
    current = aliases.get(CHAMPION)
    if aliases.get(CHALLENGER) == info.version:
        client.delete_registered_model_alias(name, CHALLENGER)
    if current == info.version:
        return get_version(info.version, name)
    client.set_registered_model_alias(name, CHAMPION, str(info.version))
    stack = champion_stack(name)
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)  # champion set outside this module: keep it reachable by rollback
    stack.append(info.version)
    _record(client, name, stack, "promote", info.version, current, reason)
    client.set_model_version_tag(name, str(info.version), "promoted_reason", reason[:500])
    return get_version(info.version, name)


def rollback(to: str | int | None = None, *, name: str = MODEL_NAME) -> VersionInfo:
    """Move ``champion`` back to the previous champion (or to version ``to``)."""
    client = get_client()
    current = _aliases(client, name).get(CHAMPION)
    if current is None:
        raise RegistryError(f"model {name!r} has no champion to roll back; promote one first "
                            "('butterflyer models promote VERSION')")
    stack = champion_stack(name)
    while stack and stack[-1] == current:
        stack.pop()
    if to is not None:
        target = get_version(to, name).version
        if not stack or stack[-1] != target:
            stack.append(target)
    elif stack:
        target = stack[-1]
    else:
        raise RegistryError(f"champion v{current} has no earlier champion to roll back to; "
                            "name one with 'butterflyer models rollback --to VERSION'")
    if target == current:
        raise RegistryError(f"v{target} is already the champion")
    client.set_model_version_tag(name, str(current), "rolled_back_at", f"{time.time():.0f}")
    client.set_registered_model_alias(name, CHAMPION, str(target))
    _record(client, name, stack, "rollback", target, current, f"rollback from v{current}")
    return get_version(target, name)
