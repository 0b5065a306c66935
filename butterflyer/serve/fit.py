"""Fit and measure the serving decisions of one model on labelled photos.

``fit_serving`` runs the model over labelled examples and chooses:

- the gate's reference on the ``gate_split`` (train by default, ``per_class``
  photos per species): the photos' pooled features when the export gives them
  (:mod:`~butterflyer.serve.ood_neighbours`), else their mean ImageNet answer per
  species (:class:`~butterflyer.serve.ood.GateProfile`),
- the gate threshold and the roll-up thresholds on the ``tune_split``
  (validation), never on the test split,

and, with ``write=True``, stores them with the model: ``meta.json`` under
``extra["serving"]`` (and the feature bank in ``gate.safetensors`` beside it).
``measure_gate`` reports false rejections on a labelled split (use the test
split) and verdicts on bundled everyday photos
(:mod:`~butterflyer.serve.everyday`), which are never used for fitting.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from butterflyer.errors import ButterflyerError, DataError, ImageError, ModelError
from butterflyer.fileio import atomic_write_bytes, sha256_bytes
from butterflyer.models.meta import ModelMeta
from butterflyer.serve.catalog import Catalog, load_catalog
from butterflyer.serve.everyday import everyday_photos
from butterflyer.serve.identify import SERVING_KEY, Identifier
from butterflyer.serve.ood import GateProfile, choose_threshold, fit_profile
from butterflyer.serve.ood_neighbours import GATE_FILE, KIND, NeighbourGate
from butterflyer.serve.openset import LabelledBank, fit_learned_openset, fit_openset
from butterflyer.serve.openset_learn import DEFAULT_GROUPS
from butterflyer.serve.preprocess import decode, preprocess
from butterflyer.serve.rollup import fit_thresholds
from butterflyer.serve.session import ServedModel

Example = tuple[bytes, str]
GATE_PER_CLASS = 30  # training photos per species the gate is fitted on
log = logging.getLogger(__name__)


@dataclass
class Scored:
    """Model outputs over a set of photos: species and ImageNet probabilities, features, true indices."""

    species: np.ndarray
    imagenet: np.ndarray | None
    targets: np.ndarray
    skipped: int
    features: np.ndarray | None = None


def records_examples(records: str | Path, split: str, per_class: int | None = None) -> Iterator[Example]:
    """``(jpeg bytes, label)`` pairs from a records folder, at most ``per_class`` per label."""
    from butterflyer.data.reader import iter_examples

    seen: Counter[str] = Counter()
    for ex in iter_examples(str(records), split):
        label = ex["text"]
        if per_class is not None and seen[label] >= per_class:
            continue
        seen[label] += 1
        yield ex["encoded"], label


def score(model: ServedModel, examples: Iterable[Example], batch_size: int = 32,
          progress: Callable[[int], None] | None = None) -> Scored:
    """Run ``model`` over ``examples`` (labels the model does not know are skipped)."""
    index = {label: i for i, label in enumerate(model.meta.labels)}
    cfg = model.meta.data_config
    species, inet, feats, targets, skipped = [], [], [], [], 0
    pending: list[np.ndarray] = []
    pending_t: list[int] = []

    def flush() -> None:
        if not pending:
            return
        out = model.run(np.stack(pending))
        species.append(out.species)
        if out.imagenet is not None:
            inet.append(out.imagenet)
        if out.features is not None:
            feats.append(out.features)
        targets.extend(pending_t)
        if progress:
            progress(len(pending))
        pending.clear()
        pending_t.clear()

    for data, label in examples:
        if label not in index:
            skipped += 1
            continue
        try:
            pending.append(preprocess(decode(data, cfg), cfg))
        except ImageError:
            skipped += 1
            continue
        pending_t.append(index[label])
        if len(pending) >= batch_size:
            flush()
    flush()
    if not targets:
        raise DataError("no usable labelled photos for this model; check the records folder and split")
    return Scored(np.concatenate(species), np.concatenate(inet) if inet else None, np.array(targets), skipped,
                  np.concatenate(feats) if feats else None)


def _taxonomy(catalog: Catalog) -> Callable[[str], tuple[str | None, str | None]]:
    return lambda label: (catalog.genus(label), catalog.family(label))


def fit_serving(model: ServedModel, gate_examples: Iterable[Example], tune_examples: Iterable[Example],
                catalog: Catalog | None = None, target_precision: float = 0.95,
                max_false_reject: float = 0.01,
                openset_quantiles: dict[str, float] | None = None) -> dict[str, Any]:
    """Choose gate, roll-up thresholds and the open-set rule; returns ``meta.extra["serving"]``.

    The open-set rule (:mod:`~butterflyer.serve.openset`) needs the feature bank, so only
    exports with a ``features`` output get one: the learned rule (a score fitted on unknowns
    simulated by hiding known labels, :mod:`~butterflyer.serve.openset_learn`) whenever the
    validation photos hold two labels or more, else the similarity bars; the bars' quantile
    levels default to the ones chosen by ``benchmarks/bench_openset.py`` on held-out labels.
    """
    catalog = catalog if catalog is not None else load_catalog()
    started = time.time()
    serving: dict[str, Any] = {}
    tune = score(model, tune_examples)
    thresholds = fit_thresholds(tune.species, tune.targets, _taxonomy(catalog), model.meta.labels,
                                target_precision=target_precision)
    serving["thresholds"] = thresholds.to_dict()
    report: dict[str, Any] = {"tune_images": int(len(tune.targets)), "target_precision": target_precision}
    if tune.features is not None or tune.imagenet is not None:
        fit = score(model, gate_examples)
        if tune.features is not None and fit.features is not None:
            bank = NeighbourGate.fit(fit.features, labels=fit.targets)
            sims = bank.similarity(tune.features)
            threshold = choose_threshold(sims, max_false_reject)
            serving["gate"] = bank.with_threshold(threshold).to_json()
            taxa = [_taxonomy(catalog)(label) for label in model.meta.labels]
            genera, families = [t[0] for t in taxa], [t[1] for t in taxa]
            labelled = LabelledBank(bank.bank, fit.targets, genera, families)
            if len(np.unique(tune.targets)) >= 2:  # unknowns are simulated by hiding known labels
                rule = fit_learned_openset(labelled, tune.species, tune.features, tune.targets,
                                           thresholds.species, openset_quantiles,
                                           groups=min(DEFAULT_GROUPS, len(model.meta.labels)))
            else:
                rule = fit_openset(labelled, tune.features, tune.targets, openset_quantiles)
            serving["openset"] = rule.to_json()
            report["openset"] = {"kind": rule.kind, "species_similarity": round(rule.species_similarity, 4),
                                 "genus_similarity": round(rule.genus_similarity, 4),
                                 "family_similarity": round(rule.family_similarity, 4)}
            if rule.combiner is not None:
                report["openset"]["threshold"] = round(rule.combiner.threshold, 4)
                for key in ("simulated_unknown_flagged", "simulated_known_flagged"):
                    report["openset"][key] = round(rule.fitted[key], 4)
        elif tune.imagenet is not None and fit.imagenet is not None:
            cents = fit_profile(fit.imagenet, fit.targets)
            sims = GateProfile(cents, 0.0).similarity(tune.imagenet)
            threshold = choose_threshold(sims, max_false_reject)
            serving["gate"] = GateProfile(cents, threshold).to_json()
        else:
            raise ModelError("the model stopped giving its gate outputs between two runs")
        report.update(gate_kind=serving["gate"]["kind"], gate_images=int(len(fit.targets)),
                      gate_threshold=round(threshold, 4), tune_false_reject=float(np.mean(sims < threshold)))
    report["seconds"] = round(time.time() - started, 1)
    serving["fitted"] = report
    return serving


def write_serving(folder: str | Path, serving: dict[str, Any]) -> Path:
    """Store ``serving`` with the model in ``folder`` and return its ``meta.json``.

    A neighbour gate's bank goes to ``gate.safetensors`` (written first, atomically)
    and ``meta.json`` keeps a reference with its sha256, so the two cannot drift apart.
    """
    folder = Path(folder)
    serving = dict(serving)
    gate = serving.get("gate")
    if gate and gate.get("kind") == KIND and "bank_safetensors_b64" in gate:
        neighbours = NeighbourGate.from_json(gate, folder)  # checks the bank reads before anything is written
        data = base64.b64decode(gate["bank_safetensors_b64"])
        atomic_write_bytes(folder / GATE_FILE, data)
        serving["gate"] = neighbours.to_json(file_sha256=sha256_bytes(data))
    meta = ModelMeta.load(folder)
    extra = dict(meta.extra)
    extra[SERVING_KEY] = serving
    return meta.model_copy(update={"extra": extra}).save(folder)


def fit_model_folder(folder: str | Path, records: str | Path | None = None, per_class: int | None = None,
                     tune_split: str = "val", target_precision: float = 0.95, threads: int = 1,
                     write: bool = True) -> dict[str, Any]:
    """One call for the pipeline: fit on ``records`` (default ``<home>/records``), store in ``meta.json``.

    ``per_class`` training photos per species for the gate (default :data:`GATE_PER_CLASS`).
    """
    from butterflyer.data.manifest import manifest_sha256
    from butterflyer.paths import records_dir
    from butterflyer.serve.session import load_served_model

    source = str(records or records_dir())
    served = load_served_model(str(folder), threads)
    serving = fit_serving(served, records_examples(source, "train", per_class or GATE_PER_CLASS),
                          records_examples(source, tune_split), target_precision=target_precision)
    try:  # lets the pipeline see that this folder is already fitted on these records
        serving["fitted"]["records_sha"] = manifest_sha256(source)
    except (ButterflyerError, OSError) as exc:
        log.warning("records at %s have no readable manifest (%s); the fit is not stamped", source, exc)
    if write:
        write_serving(folder, serving)
    return serving


def measure_gate(ident: Identifier, examples: Iterable[Example]) -> dict[str, Any]:
    """Verdicts on labelled butterfly photos and on the bundled everyday photos."""
    verdicts: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    right: Counter[str] = Counter()
    correct = total = 0
    index = {label: i for i, label in enumerate(ident.model.meta.labels)}
    for data, label in examples:
        if label not in index:
            continue
        result = ident.identify_bytes(data)
        total += 1
        verdicts[result.verdict] += 1
        if result.verdict == "not_a_butterfly":
            rejected[label] += 1
        if result.species is not None and result.species.id == label:
            correct += 1
            right["species"] += 1
        elif result.taxon is not None:
            info = ident.catalog.get(label)
            truth = info.genus if result.taxon.rank == "genus" else info.family
            right[result.verdict] += int(truth == result.taxon.name)
    sk_results = {name: ident.identify_image(img) for name, img in everyday_photos().items()}
    sk = {name: r.verdict for name, r in sk_results.items()}
    sk_scores = {name: r.gate.score for name, r in sk_results.items() if r.gate is not None}
    return {
        "butterfly_photos": total,
        "false_reject_rate": round(verdicts["not_a_butterfly"] / max(total, 1), 4),
        "rejected_by_label": dict(rejected.most_common()),
        "verdicts": dict(verdicts),
        "species_named_and_right": round(correct / max(total, 1), 4),
        "precision_by_verdict": {v: round(right[v] / verdicts[v], 4)
                                 for v in ("species", "genus", "family") if verdicts[v]},
        "everyday": sk,
        "everyday_rejected": f"{sum(v == 'not_a_butterfly' for v in sk.values())}/{len(sk)}",
        "everyday_gate_scores": sk_scores,
        "gate_kind": ident.gate.kind,
        "gate_threshold": ident.gate.threshold,
    }
