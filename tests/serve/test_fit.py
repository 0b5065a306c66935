"""Fitting the gate and roll-up thresholds, and storing them with the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from butterflyer.models.meta import ModelMeta
from butterflyer.serve.catalog import Catalog, SpeciesInfo
from butterflyer.serve.everyday import everyday_photos
from butterflyer.serve.fit import fit_serving, measure_gate, write_serving
from butterflyer.serve.identify import Identifier
from butterflyer.serve.ood_neighbours import GATE_FILE, NeighbourGate
from butterflyer.serve.session import load_served_model
from butterflyer.serve.settings import ServeSettings

from .conftest import LABELS, encode, photo


def _examples(n_per_label: int, seed: int) -> list[tuple[bytes, str]]:
    out = []
    for k, label in enumerate(LABELS):
        for i in range(n_per_label):
            img = photo((48, 48), seed=seed + 100 * k + i)
            arr = np.asarray(img).copy()
            arr[..., k % 3] = 255 - 40 * k  # a colour cue per label
            from PIL import Image

            out.append((encode(Image.fromarray(arr), "JPEG"), label))
    return out


def test_fit_write_and_serve_with_the_feature_gate(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = load_served_model(str(tiny_model))
    catalog = Catalog({label: SpeciesInfo(label, label.title(), f"Genus{i} species", f"Genus{i // 2}", "Fam")
                       for i, label in enumerate(LABELS)})
    serving = fit_serving(served, _examples(4, 0), _examples(3, 1000) + [(b"junk", "MONARCH"), (b"", "NOPE")],
                          catalog=catalog)
    assert set(serving) == {"thresholds", "gate", "openset", "fitted"}
    rule = serving["openset"]
    assert rule["kind"] == "learned_unknown" and rule["combiner"]["names"]
    assert -1.0 <= rule["genus_similarity"] <= 1.0 and rule["fitted"]["simulated_unknown"] == 12
    assert rule["fitted"]["photos"] == 12
    assert serving["fitted"]["tune_images"] == 12  # the junk and the unknown label are skipped
    assert serving["gate"]["kind"] == "feature_neighbours"
    assert serving["gate"]["shape"] == [16, 64]  # 4 train photos x 4 labels, the tiny model's 64 features
    assert 0.0 < serving["gate"]["threshold"] < 1.0
    assert serving["fitted"]["tune_false_reject"] <= 0.1
    write_serving(tiny_model, serving)
    stored = ModelMeta.load(tiny_model).extra["serving"]["gate"]
    assert stored["threshold"] == serving["gate"]["threshold"]
    assert stored["file"] == GATE_FILE and "bank_safetensors_b64" not in stored  # meta.json stays small
    assert (tiny_model / GATE_FILE).is_file()

    ident = Identifier.load(str(tiny_model), ServeSettings(model_uri=str(tiny_model)))
    assert ident.gate.kind == "feature_neighbours"
    assert ident.gate.neighbours is not None and ident.gate.neighbours.labels is not None
    assert sorted(set(ident.gate.neighbours.labels.tolist())) == [0, 1, 2, 3]  # each row keeps its label
    assert ident.openset is not None and ident.labelled_bank is not None
    products: list[int] = []
    real = NeighbourGate.cosines
    monkeypatch.setattr(NeighbourGate, "cosines", lambda self, f: products.append(1) or real(self, f))
    answer = ident.identify_bytes(_examples(1, 7000)[0][0])
    assert answer.known_species is not None and len(answer.relatives) >= 1
    assert len(products) == 1  # the gate and the open-set rule share one product with the bank
    report = measure_gate(ident, _examples(2, 5000))
    assert report["butterfly_photos"] == 8
    assert set(report["everyday"]) == set(everyday_photos())
    assert len(report["everyday"]) >= 20 and "chelsea" in report["everyday"]
    assert set(report["everyday_gate_scores"]) == set(report["everyday"])


def test_fit_serving_cli_writes_and_reports(tiny_model: Path, monkeypatch) -> None:  # noqa: ANN001
    import json

    from typer.testing import CliRunner

    import butterflyer.serve.fit as fit
    from butterflyer.cli.main import app

    splits = {"train": _examples(3, 0), "val": _examples(3, 500), "test": _examples(2, 900)}
    monkeypatch.setattr(fit, "records_examples", lambda records, split, per_class=None: iter(splits[split]))
    args = ["fit-serving", str(tiny_model), "--records", "unused", "--measure-split", "test"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["fitted"]["tune_images"] == 12 and report["fitted"]["gate_images"] == 12
    assert report["gate_on_test"]["butterfly_photos"] == 8
    assert "gate" in ModelMeta.load(tiny_model).extra["serving"]
