"""Promotion: better, worse, no champion, other split, latency budget."""

from __future__ import annotations

import pytest

from butterflyer.registry import CHAMPION, store
from butterflyer.registry.promotion import (
    Candidate,
    PromotionConfig,
    decide,
    decide_and_promote,
    recorded_decision,
)


def test_decide_without_champion_promotes_when_floor_and_latency_hold():
    cfg = PromotionConfig(min_top1=0.5, latency_budget_ms=50)
    assert decide(Candidate(1, 0.9, "s", 10.0), None, cfg).promote
    low = decide(Candidate(1, 0.4, "s", 10.0), None, cfg)
    assert not low.promote and "floor" in low.reason
    slow = decide(Candidate(1, 0.9, "s", 80.0), None, cfg)
    assert not slow.promote and "latency" in slow.reason
    assert not decide(Candidate(1, None, "s", 10.0), None, cfg).promote


@pytest.mark.parametrize(("challenger", "champion", "margin", "expected"), [
    (0.90, 0.85, 0.0, True),
    (0.85, 0.90, 0.0, False),
    (0.90, 0.90, 0.0, False),      # a tie does not beat the champion
    (0.90, 0.89, 0.02, False),     # better, but not by the margin
    (0.92, 0.89, 0.02, True),
])
def test_decide_compares_on_the_same_split_with_margin(challenger, champion, margin, expected):
    cfg = PromotionConfig(margin=margin)
    decision = decide(Candidate(2, challenger, "s", 1.0), Candidate(1, champion, "s", 1.0), cfg)
    assert decision.promote is expected


def test_decide_refuses_a_comparison_across_different_splits():
    decision = decide(Candidate(2, 0.99, "sha-new", 1.0), Candidate(1, 0.5, "sha-old", 1.0),
                      PromotionConfig())
    assert not decision.promote and "same records" in decision.reason


def test_promotes_first_then_only_better_models(mlflow_store, make_model):
    first, _ = store.register_model_dir(make_model(top1=0.80), name="bf")
    assert decide_and_promote(first.version, name="bf").promote
    assert store.alias_version(CHAMPION, "bf").version == first.version

    worse, _ = store.register_model_dir(make_model(top1=0.70), name="bf")
    decision = decide_and_promote(worse.version, name="bf")
    assert not decision.promote
    assert store.alias_version(CHAMPION, "bf").version == first.version
    assert store.get_version(worse.version, "bf").tags["promotion.decision"] == "rejected"

    better, _ = store.register_model_dir(make_model(top1=0.90), name="bf")
    assert decide_and_promote(better.version, name="bf").promote
    assert store.alias_version(CHAMPION, "bf").version == better.version
    assert store.rollback(name="bf").version == first.version


def test_gate_re_evaluates_a_champion_from_another_split(mlflow_store, make_model):
    old, _ = store.register_model_dir(make_model(top1=0.95, data_sha="old"), name="bf")
    store.promote(old.version, name="bf")
    new, _ = store.register_model_dir(make_model(top1=0.90, data_sha="new"), name="bf")
    assert not decide_and_promote(new.version, name="bf", dry_run=True).promote  # no way to compare
    seen = []

    def evaluate(info):
        seen.append(info.version)
        return 0.85  # the old champion does worse on the new split

    decision = decide_and_promote(new.version, name="bf", evaluate_champion=evaluate)
    assert seen == [old.version] and decision.promote
    assert store.alias_version(CHAMPION, "bf").version == new.version


def test_gate_enforces_the_latency_budget(mlflow_store, make_model):
    slow, _ = store.register_model_dir(make_model(top1=0.99, latency=500.0), name="bf")
    decision = decide_and_promote(slow.version, PromotionConfig(latency_budget_ms=100), name="bf")
    assert not decision.promote and not decision.checks["latency"]
    assert store.alias_version(CHAMPION, "bf") is None


def test_recorded_decision_reads_new_tags_and_the_ones_written_before_the_rename():
    assert recorded_decision({"promotion.decision": "promoted", "promotion.reason": "better"}) == \
        ("promoted", "better")
    assert recorded_decision({"gate.decision": "rejected", "gate.reason": "slower"}) == ("rejected", "slower")
    both = {"promotion.decision": "promoted", "promotion.reason": "new", "gate.decision": "rejected"}
    assert recorded_decision(both) == ("promoted", "new")
    assert recorded_decision({}) == ("", "")


def test_register_and_decide_times_a_hand_registered_model_and_rescores_the_champion(
        mlflow_store, make_model, monkeypatch):
    from butterflyer.registry import promotion

    champion = make_model(top1=0.8, data_sha="sha-old", latency=5.0)
    promotion.register_and_decide(champion)
    assert store.alias_version(CHAMPION).version == 1
    scored = []

    def scorer(records_uri):
        def score(info):
            scored.append((info.version, records_uri))
            return 0.7  # the champion on the challenger's newer split
        return score

    monkeypatch.setattr(promotion, "champion_scorer", scorer)
    # no latency in its metrics: by hand this used to read "latency was not measured"
    challenger = make_model(top1=0.75, data_sha="sha-new", latency=None)
    done = promotion.register_and_decide(challenger, records_uri="/records/new")
    assert scored == [(1, "/records/new")]
    assert done.promoted and done.champion == 2, done.promotion_reason
    reason = done.promotion_reason
    assert "0.7500 vs champion v1 0.7000" in reason and "latency was not measured" not in reason
    assert "latency_ms_p50" in store.get_version(2).metrics


def test_models_decide_by_hand_measures_latency(mlflow_store, make_model):
    from typer.testing import CliRunner

    from butterflyer.cli.main import app

    runner = CliRunner()
    registered = runner.invoke(app, ["models", "register", str(make_model(top1=0.9, latency=None))])
    assert registered.exit_code == 0, registered.output
    decided = runner.invoke(app, ["models", "decide", "1"])
    assert decided.exit_code == 0 and "PROMOTE" in decided.output, decided.output
    assert "latency_ms_p50" in store.get_version(1).metrics
