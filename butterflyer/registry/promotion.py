"""Promotion: a challenger replaces the champion only when it is better.

Rules (all must hold):

1. the challenger has a test top-1 (``metric.test_top1``) and clears ``min_top1``;
2. there is no champion, or the challenger beats it by more than ``margin`` on the
   *same* test split: both were evaluated on records with the same data manifest
   sha256. When the shas differ, the champion is re-evaluated on the challenger's
   split if an ``evaluate_champion`` callback is given; otherwise no promotion;
3. the challenger's batch-1 CPU latency (p50, ms) is within ``latency_budget_ms``.

:func:`decide` is pure (easy to test); :func:`decide_and_promote` reads the registry,
decides, promotes, and records the decision as tags on the challenger. :func:`register_and_decide`
is the one entry point the pipeline and ``butterflyer models register/decide`` share: it registers a
folder, measures the challenger's latency when it was not measured yet, re-evaluates the champion
on the challenger's split when records are given, and decides
(``promotion.decision`` / ``promotion.reason``; versions registered before the
rename carry ``gate.decision`` / ``gate.reason``, which :func:`recorded_decision`
still reads).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from butterflyer.errors import ButterflyerError
from butterflyer.registry import CHALLENGER, CHAMPION, MODEL_NAME

log = logging.getLogger(__name__)

METRIC = "test_top1"
LATENCY_KEY = "latency_ms_p50"
DECISION_TAG = "promotion.decision"
REASON_TAG = "promotion.reason"
# the tag names written before "gate" came to mean only the not-a-butterfly check
_OLD_DECISION_TAG = "gate.decision"
_OLD_REASON_TAG = "gate.reason"


class PromotionConfig(BaseModel):
    """Thresholds of promotion (pipeline parameters and CLI flags)."""

    margin: float = Field(default=0.0, ge=0.0, le=1.0,
                          description="top-1 the challenger must gain (0.01 = 1 point)")
    min_top1: float = Field(default=0.0, ge=0.0, le=1.0,
                            description="absolute floor, applies with no champion too")
    latency_budget_ms: float = Field(default=250.0, gt=0.0, description="batch-1 CPU p50 latency limit")
    metric: str = METRIC


@dataclass
class Candidate:
    """What promotion knows about one model."""

    version: int | None
    top1: float | None
    data_sha: str | None
    latency_ms: float | None = None


@dataclass
class PromotionDecision:
    promote: bool
    reason: str
    challenger: Candidate
    champion: Candidate | None
    checks: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _same_split(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a != "unknown" and a == b


def decide(challenger: Candidate, champion: Candidate | None, config: PromotionConfig) -> PromotionDecision:
    """Apply the promotion rules; ``champion.top1`` must already be on the challenger's split."""
    checks: dict[str, bool] = {}
    reasons: list[str] = []
    if challenger.top1 is None:
        return PromotionDecision(False, f"challenger has no {config.metric}: evaluate it on the test split "
                                 "first", challenger, champion, {"evaluated": False})
    checks["evaluated"] = True
    checks["min_top1"] = challenger.top1 >= config.min_top1
    if not checks["min_top1"]:
        reasons.append(f"top-1 {challenger.top1:.4f} is below the floor {config.min_top1:.4f}")
    if challenger.latency_ms is None:
        checks["latency"] = False
        reasons.append("latency was not measured")
    else:
        checks["latency"] = challenger.latency_ms <= config.latency_budget_ms
        if not checks["latency"]:
            reasons.append(f"p50 latency {challenger.latency_ms:.1f} ms exceeds the budget "
                           f"{config.latency_budget_ms:.1f} ms")
    if champion is None:
        checks["beats_champion"] = True
        beat = "no champion yet"
    elif champion.top1 is None or not _same_split(challenger.data_sha, champion.data_sha):
        checks["beats_champion"] = False
        beat = ""
        reasons.append(f"champion v{champion.version} has no top-1 on the challenger's test split "
                       f"(data sha {challenger.data_sha}); re-evaluate it on the same records")
    else:
        gain = challenger.top1 - champion.top1
        checks["beats_champion"] = gain > config.margin
        beat = (f"top-1 {challenger.top1:.4f} vs champion v{champion.version} {champion.top1:.4f} "
                f"(gain {gain:+.4f}, margin {config.margin:.4f})")
        if not checks["beats_champion"]:
            reasons.append(beat)
    if all(checks.values()):
        latency = f", p50 {challenger.latency_ms:.1f} ms" if challenger.latency_ms is not None else ""
        return PromotionDecision(True, f"promote: {beat}{latency}", challenger, champion, checks)
    return PromotionDecision(False, "keep champion: " + "; ".join(reasons), challenger, champion, checks)


def _candidate(info: Any, metric: str) -> Candidate:
    metrics = info.metrics
    return Candidate(version=info.version, top1=metrics.get(metric),
                     data_sha=info.tags.get("data_manifest_sha256"), latency_ms=metrics.get(LATENCY_KEY))


def decide_and_promote(version: int | str, config: PromotionConfig | None = None, *, name: str = MODEL_NAME,
                       evaluate_champion: Callable[[Any], float | None] | None = None,
                       dry_run: bool = False) -> PromotionDecision:
    """Judge registered ``version`` against the current champion and promote it if it passes.

    ``evaluate_champion(champion_info) -> top1`` is called only when the champion
    was evaluated on a different split than the challenger.
    """
    from butterflyer.registry import store

    config = config or PromotionConfig()
    challenger_info = store.get_version(version, name)
    challenger = _candidate(challenger_info, config.metric)
    champion_info = store.alias_version(CHAMPION, name)
    champion: Candidate | None = None
    if champion_info is not None:
        if champion_info.version == challenger_info.version:
            return PromotionDecision(False, f"v{challenger_info.version} is already the champion",
                                     challenger, challenger, {"already_champion": True})
        champion = _candidate(champion_info, config.metric)
        if not _same_split(challenger.data_sha, champion.data_sha) and evaluate_champion is not None \
                and challenger.data_sha not in (None, "unknown"):
            champion.top1 = evaluate_champion(champion_info)
            champion.data_sha = challenger.data_sha if champion.top1 is not None else champion.data_sha
    decision = decide(challenger, champion, config)
    if not dry_run:
        client = store.get_client()
        client.set_model_version_tag(name, str(challenger_info.version), DECISION_TAG,
                                     "promoted" if decision.promote else "rejected")
        client.set_model_version_tag(name, str(challenger_info.version), REASON_TAG,
                                     decision.reason[:4000])
        if decision.promote:
            store.promote(challenger_info.version, name=name, reason=decision.reason)
    return decision


def recorded_decision(tags: dict[str, str]) -> tuple[str, str]:
    """``(decision, reason)`` recorded on a version's tags (``("", "")`` when it was never judged)."""
    decision = tags.get(DECISION_TAG, tags.get(_OLD_DECISION_TAG, ""))
    reason = tags.get(REASON_TAG, tags.get(_OLD_REASON_TAG, ""))
    return decision, reason


@dataclass(kw_only=True)
class Registered:
    """What :func:`register_and_decide` did."""

    version: int
    created: bool
    model_uri: str
    promoted: bool = False
    promotion_reason: str = "registered (not a challenger)"
    champion: int = 0


def champion_scorer(records_uri: str) -> Callable[[Any], float | None]:
    """``evaluate_champion`` for :func:`decide_and_promote`: the champion's test top-1 on ``records_uri``.

    A champion that cannot be evaluated here (its files are gone, it cannot be loaded, the records
    lack a split) scores ``None``: it then stays, and the decision's reason says so.
    """
    def score(champion: Any) -> float | None:
        from butterflyer.registry.resolve import resolve_model_uri
        from butterflyer.train.score import score_folder

        try:
            return score_folder(resolve_model_uri(champion.uri), records_uri).get(METRIC)
        except (ButterflyerError, OSError) as exc:
            log.warning("champion v%s cannot be evaluated on %s: %s", champion.version, records_uri, exc)
            return None

    return score


def ensure_latency(version: int, name: str = MODEL_NAME) -> float:
    """The version's p50 latency, measured on its folder and stored as tags when it has none yet."""
    from butterflyer.registry import store
    from butterflyer.registry.latency import measure_latency
    from butterflyer.registry.resolve import resolve_model_uri

    info = store.get_version(version, name)
    if LATENCY_KEY in info.metrics:
        return info.metrics[LATENCY_KEY]
    measured = measure_latency(resolve_model_uri(info.uri))
    client = store.get_client()
    for key, value in measured.items():
        client.set_model_version_tag(name, str(info.version), f"metric.{key}", repr(round(value, 3)))
    return measured[LATENCY_KEY]


def register_and_decide(model_dir: str | Path, *, name: str = MODEL_NAME,
                        metrics: dict[str, float] | None = None, report: str | Path | None = None,
                        challenge: bool = True,
                        config: PromotionConfig | None = None, records_uri: str = "",
                        extra_tags: dict[str, str] | None = None, decide: bool = True,
                        dry_run: bool = False) -> Registered:
    """Register ``model_dir`` (metrics as tags); as a challenger (``challenge``) point the challenger
    alias at it and, with ``decide``, time it and decide its promotion."""
    from butterflyer.registry import store

    tags = {f"metric.{k}": repr(float(v)) for k, v in (metrics or {}).items()}
    tags.update(extra_tags or {})
    info, created = store.register_model_dir(model_dir, name=name, report=report or None, extra_tags=tags,
                                             alias=CHALLENGER if challenge else None)
    out = Registered(version=info.version, created=created, model_uri=info.uri)
    if challenge and decide:
        decision = decide_version(info.version, config, name=name, records_uri=records_uri, dry_run=dry_run)
        champion = store.alias_version(CHAMPION, name)
        out.promoted, out.promotion_reason = decision.promote, decision.reason
        out.champion = champion.version if champion else 0
    return out


def decide_version(version: int | str, config: PromotionConfig | None = None, *, name: str = MODEL_NAME,
                   records_uri: str = "", dry_run: bool = False) -> PromotionDecision:
    """Time a registered version if needed, then judge it (champion re-evaluated on ``records_uri``)."""
    from butterflyer.registry import store

    number = store.get_version(version, name).version
    ensure_latency(number, name)
    scorer = champion_scorer(records_uri) if records_uri else None
    return decide_and_promote(number, config, name=name, evaluate_champion=scorer, dry_run=dry_run)
