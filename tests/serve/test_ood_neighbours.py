"""The neighbour gate on the model's own pooled features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from butterflyer.errors import ModelError
from butterflyer.fileio import atomic_write_bytes, sha256_bytes
from butterflyer.serve.ood import OodGate, choose_threshold
from butterflyer.serve.ood_neighbours import GATE_FILE, NeighbourGate, unit_rows


def _clusters(n: int, seed: int, dim: int = 32, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative features (like pooled ReLU6 maps) around one centre per class."""
    rng = np.random.default_rng(seed)
    centres = np.abs(np.random.default_rng(0).normal(size=(classes, dim))) * 3
    labels = np.arange(n) % classes
    return np.abs(centres[labels] + rng.normal(scale=0.4, size=(n, dim))), labels


def test_photos_near_the_bank_pass_and_others_do_not() -> None:
    train, _ = _clusters(60, seed=1)
    held_out, _ = _clusters(30, seed=2)
    bank = NeighbourGate.fit(train)
    gate = OodGate(neighbours=bank.with_threshold(choose_threshold(bank.similarity(held_out))))
    assert gate.kind == "feature_neighbours"
    assert all(gate.decide(None, f).passed for f in held_out)  # type: ignore[union-attr]
    rng = np.random.default_rng(3)
    strangers = np.abs(rng.normal(size=(20, 32))) * 3  # not near any class centre
    decisions = [gate.decide(None, f) for f in strangers]
    assert not any(d.passed for d in decisions)  # type: ignore[union-attr]
    assert gate.decide(np.full(1000, 1e-3), None) is None  # no features: this gate cannot judge


def test_the_kth_neighbour_sets_the_score() -> None:
    bank = NeighbourGate.fit(np.eye(4), k=2)
    query = np.array([[1.0, 0.0, 0.0, 0.0]])
    assert bank.similarity(query)[0] == pytest.approx(0.0)  # best is 1.0, second best 0.0
    assert NeighbourGate.fit(np.eye(4), k=1).similarity(query)[0] == pytest.approx(1.0)
    assert NeighbourGate.fit(np.eye(2), k=5).similarity(query[:, :2])[0] == pytest.approx(0.0)  # k > bank


def test_inline_and_file_storage_round_trip(tmp_path: Path) -> None:
    train, _ = _clusters(12, seed=4)
    gate = NeighbourGate.fit(train, threshold=0.8123, k=3)
    inline = NeighbourGate.from_json(gate.to_json(), None)
    assert inline.k == 3 and inline.threshold == pytest.approx(0.8123)
    np.testing.assert_allclose(inline.bank, gate.bank, atol=1e-3)

    data = gate.bank_bytes()
    atomic_write_bytes(tmp_path / GATE_FILE, data)
    ref = gate.to_json(file_sha256=sha256_bytes(data))
    assert "bank_safetensors_b64" not in ref
    from_file = NeighbourGate.from_json(ref, tmp_path)
    np.testing.assert_allclose(from_file.similarity(train), gate.similarity(train), atol=1e-3)


def test_a_missing_or_changed_bank_file_is_a_clear_error(tmp_path: Path) -> None:
    gate = NeighbourGate.fit(np.eye(4))
    ref = gate.to_json(file_sha256=sha256_bytes(gate.bank_bytes()))
    with pytest.raises(ModelError, match="missing; re-run 'butterflyer fit-serving"):
        NeighbourGate.from_json(ref, tmp_path)
    atomic_write_bytes(tmp_path / GATE_FILE, NeighbourGate.fit(np.eye(4) * 2 + 1).bank_bytes())
    with pytest.raises(ModelError, match="does not match meta.json"):
        NeighbourGate.from_json(ref, tmp_path)
    atomic_write_bytes(tmp_path / GATE_FILE, b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot be read"):
        NeighbourGate.from_json({**ref, "sha256": None}, tmp_path)


def test_features_of_another_model_are_refused() -> None:
    gate = NeighbourGate.fit(np.eye(4))
    with pytest.raises(ModelError, match="gives 3 features but the gate's bank holds 4"):
        gate.similarity(np.ones((1, 3)))


def test_the_int8_bank_keeps_similarities_and_is_a_byte_per_value() -> None:
    train, _ = _clusters(300, seed=5, dim=128)
    held_out, _ = _clusters(50, seed=6, dim=128)
    gate = NeighbourGate.fit(train)
    exact = unit_rows(held_out) @ unit_rows(train).T
    stored = unit_rows(held_out) @ NeighbourGate.from_json(gate.to_json(), None).bank.T
    assert np.abs(exact - stored).max() < 5e-3
    assert len(gate.bank_bytes()) < 1.1 * train.size  # int8 values + one float32 scale per row


def test_the_server_keeps_blas_on_one_thread() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from butterflyer.serve.server import single_threaded_blas

    before = {i["internal_api"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    try:
        single_threaded_blas()
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    finally:
        threadpool_limits(limits=max(before.values(), default=1), user_api="blas")


def test_a_feature_gate_on_an_export_without_features_refuses_to_load(tmp_path: Path) -> None:
    from butterflyer.serve.identify import Identifier
    from butterflyer.serve.session import load_served_model
    from butterflyer.serve.settings import ServeSettings

    from .conftest import make_constant_onnx

    gate = NeighbourGate.fit(np.eye(4), threshold=0.5).to_json()
    folder = make_constant_onnx(tmp_path / "m", [1.0, 0.0], None, extra={"serving": {"gate": gate}})
    served = load_served_model(str(folder))
    with pytest.raises(ModelError, match="gives no 'features' output"):
        Identifier.from_model(served, ServeSettings.model_validate({"model_uri": str(folder)}))
