"""The label audit: photos that are probably mislabelled, and labels that hold more than one species.

Usage::

    from butterflyer.data.audit import AuditConfig, audit
    result = audit("records/")            # writes audit_*.csv/png and a report section into interim/

1. Pooled features of every photo (train, val and test) from the pretrained
   backbone, through the training fast path's feature cache (no second extractor).
2. Out-of-fold predictions: K linear heads, each trained (as the fast path trains
   its head) on the other folds; near-duplicate groups stay inside one fold so a
   copy cannot vouch for its twin's label.
3. Confident learning (cleanlab) on those predictions: a photo is flagged when its
   given label is implausible next to how often each label is confused with each
   other one; flags are ranked by self-confidence (the probability of the given label).
4. Per label: the share of its photos flagged, and a clustering check (two k-means
   clusters of its normalised features: how well they separate, and whether the
   smaller one looks more like another label than like the rest of its own) that
   catches a label mixing two species even when a classifier learns both modes.

The audit never deletes or relabels anything; ``prepare --exclude-audit`` may drop
the flagged photos from train (never from val/test).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from butterflyer.data.audit_report import AuditResult, write_audit
from butterflyer.errors import DataError

__all__ = ["AuditConfig", "AuditResult", "audit"]

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
Progress = Callable[[str, int, int], None]
FULL_MINORITY = 0.25  # a second cluster this large (or larger) counts fully in the separation


@dataclass(frozen=True)
class AuditConfig:
    """Settings of the audit (saved in ``audit.json``)."""

    model: str = "efficientnet_lite0"
    weights: str | None = None
    folds: int = 5
    seed: int = 0
    head_epochs: int = 30
    min_steps: int = 300  # small datasets get more epochs so the heads still converge
    min_cluster_photos: int = 12
    threads: int | None = None
    show: tuple[str, ...] = ()  # labels whose two clusters the contact sheet shows whatever their rank


# -- features --------------------------------------------------------------------------------------


def photo_index(records: str) -> list[dict[str, Any]]:
    """One row per example (key, split, label index, label text, sha256) in record order, splits in order."""
    from butterflyer.data.manifest import read_manifest
    from butterflyer.data.reader import iter_examples

    present = read_manifest(records, check_shards=False)["splits"]
    rows = []
    for split in SPLITS:
        if split not in present:
            continue
        for ex in iter_examples(records, split):
            rows.append(
                {"key": ex["filename"], "split": split, "label_index": ex["label"], "label": ex["text"],
                 "sha256": ex["sha256"]}
            )
    return rows


def pooled_features(
    records: str, config: AuditConfig, progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(features (N, D) float32, labels (N,), label names)`` for every split, in :func:`photo_index` order.

    Uses the fast path's cached backbone maps (same cache key as ``butterflyer train``
    with its default settings, so an earlier training run's cache is reused).
    """
    from butterflyer.data.manifest import read_manifest
    from butterflyer.models import create_model, data_config_for
    from butterflyer.train.config import TrainConfig
    from butterflyer.train.data import read_labels
    from butterflyer.train.fastpath import _pool, cached_maps
    from butterflyer.train.features import cut_backbone

    labels = read_labels(records)
    cfg = TrainConfig(input=records, model=config.model, weights=config.weights, tracker="none",
                      fast_finetune_blocks=0, num_workers=0)
    torch.manual_seed(config.seed)  # only architectures without pretrained weights depend on it
    model = create_model(cfg.model, len(labels), pretrained=cfg.pretrained, weights=cfg.weights).eval()
    dc = data_config_for(cfg.model)
    cut = cut_backbone(model, 0)
    present = read_manifest(records, check_shards=False)["splits"]
    feats, ys = [], []
    for split in SPLITS:
        if split not in present:
            continue
        maps, y = cached_maps(cfg, cut, dc, split, False, labels, progress)
        feats.append(_pool(cut.suffix, maps).float().numpy())
        ys.append(y.numpy())
    if not feats:
        raise DataError(f"{records} has no train/val/test split. Run 'butterflyer data build-records'.")
    return np.concatenate(feats).astype(np.float32), np.concatenate(ys).astype(np.int64), labels


# -- out-of-fold predictions -----------------------------------------------------------------------


def fold_ids(labels: np.ndarray, groups: np.ndarray | None, folds: int, seed: int) -> np.ndarray:
    """A fold number per photo: stratified by label, whole groups per fold when ``groups`` is given."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    counts = np.bincount(labels)
    smallest = int(counts[counts > 0].min())
    if folds < 2:
        raise DataError("the audit needs at least 2 folds (--folds).")
    if smallest < folds:
        log.warning("a label has only %d photos, fewer than %d folds: its out-of-fold predictions are weak",
                    smallest, folds)
    out = np.full(len(labels), -1, dtype=np.int64)
    x = np.zeros(len(labels))
    if groups is None:
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
        parts = splitter.split(x, labels)
    else:
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        parts = splitter.split(x, labels, groups)
    for k, (_, held) in enumerate(parts):
        out[held] = k
    return out


def out_of_fold_probs(
    feats: np.ndarray, labels: np.ndarray, num_classes: int, folds: np.ndarray, epochs: int, seed: int,
    min_steps: int = 300,
    on_fold: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Class probabilities for every photo from a linear head that never saw it (the fast path's head recipe).

    Each head trains for ``epochs``, or longer when that would be under ``min_steps`` steps.
    """
    from butterflyer.train.config import TrainConfig

    x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))
    y = torch.from_numpy(labels)
    cfg = TrainConfig(seed=seed, tracker="none")
    n_folds = max(2, len(set(folds.tolist())))
    steps_per_epoch = math.ceil(len(labels) * (1 - 1 / n_folds) / max(cfg.batch_size, 128))
    cfg = cfg.model_copy(update={"fast_head_epochs": max(epochs, math.ceil(min_steps / steps_per_epoch))})
    probs = np.zeros((len(labels), num_classes), dtype=np.float64)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: extra threads only spin-wait on a busy machine
    try:
        for k in sorted(set(folds.tolist())):
            held = np.flatnonzero(folds == k)
            fit = np.flatnonzero(folds != k)
            probs[held] = _fold_probs(x, y, held, fit, num_classes, cfg, seed * 1000 + k)
            if on_fold is not None:
                on_fold(k + 1)
    finally:
        torch.set_num_threads(threads_before)
    return probs


def _fold_probs(x: torch.Tensor, y: torch.Tensor, held: np.ndarray, fit: np.ndarray, num_classes: int,
                cfg: Any, seed: int) -> np.ndarray:
    from torch import nn

    from butterflyer.train.fastpath import train_head

    h, f = torch.from_numpy(held), torch.from_numpy(fit)
    # standardised with the training folds' statistics: features of any scale then train at one lr
    mean, std = x[f].mean(0), x[f].std(0).clamp_min(1e-6)
    x = (x - mean) / std
    torch.manual_seed(seed)
    head = nn.Linear(x.shape[1], num_classes)
    train_head(head, nn.Identity(), x[f], y[f], x[h], y[h], cfg, gen=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        head.eval()
        return torch.softmax(head(x[h]).double(), 1).numpy()


# -- confident learning and the mix check ----------------------------------------------------------


def label_issues(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(flagged indices ranked most-suspect first, self-confidence per photo)`` via cleanlab."""
    from cleanlab.filter import find_label_issues

    ranked = find_label_issues(labels, probs, filter_by="prune_by_noise_rate",
                               return_indices_ranked_by="self_confidence", n_jobs=1)
    self_conf = probs[np.arange(len(labels)), labels]
    return np.asarray(ranked, dtype=np.int64), self_conf


def two_cluster_split(feats: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """K-means (k=2) on L2-normalised features: ``(cluster per photo, silhouette)``.

    The silhouette is near 0 for one blob split in two and rises when the photos
    form two separate groups (two species, or strongly different sexes/forms).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    x = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    with threadpool_limits(1):  # OpenMP threads spin-wait on a busy shared machine; one is faster here
        km = KMeans(2, n_init=4, random_state=seed).fit(x)
    if len(set(km.labels_.tolist())) < 2:
        return km.labels_, 0.0
    return km.labels_, float(silhouette_score(x, km.labels_))


def _zscores(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    out = np.zeros_like(values, dtype=np.float64)
    if finite.sum() >= 2 and values[finite].std() > 0:
        out[finite] = (values[finite] - values[finite].mean()) / values[finite].std()
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def minority_drift(
    feats: np.ndarray, assign: np.ndarray, centroids: np.ndarray, own: int
) -> tuple[float, int]:
    """How much closer a label's smaller cluster is to another label than to its own larger cluster.

    Cosine similarity of the smaller cluster's mean (normalised features) to the
    nearest *other* label's centroid, minus its similarity to the larger
    cluster's mean; returns ``(drift, that other label's index)``. Views or sexes
    of one species stay closer to each other (drift near or below 0); photos of a
    second species drift toward the labels they resemble.
    """
    x = _unit(feats)
    small = 0 if assign.mean() > 0.5 else 1
    mino, majo = _unit(x[assign == small].mean(0)), _unit(x[assign != small].mean(0))
    sims = centroids @ mino
    sims[own] = -np.inf
    other = int(sims.argmax())
    return float(sims[other] - mino @ majo), other


def label_table(
    feats: np.ndarray, labels: np.ndarray, probs: np.ndarray, flagged: np.ndarray, names: list[str],
    config: AuditConfig,
) -> tuple[list[dict[str, Any]], dict[int, np.ndarray]]:
    """Per-label rows ranked by ``mix_score`` (most suspect first) and each label's cluster assignment.

    Three signals per label:

    - ``flagged_share``: the share of its photos confident learning flags;
    - ``separation``: the silhouette of two k-means clusters of its *unflagged*
      photos (a few mislabelled photos would form a small far-away cluster of
      their own, which confident learning already reports);
    - ``drift``: how much closer the smaller cluster is to another label than to
      the label's larger cluster (:func:`minority_drift`); the other label is
      ``resembles``.

    ``separation`` and ``drift`` are weighted by the smaller cluster's share (full
    weight from ``FULL_MINORITY`` up): a split that isolates a handful of odd photos
    is not a second species. ``mix_score`` adds the positive parts of the three
    z-scores (each against all labels): a label stands out when any signal says it
    is not one clean species (more when several do), and is never pulled down for
    looking clean on one of them. Two clusters can also be two sexes or the upper
    and under side of one species; the contact sheet shows which.
    """
    predicted = probs.argmax(1)
    is_flagged = np.zeros(len(labels), dtype=bool)
    is_flagged[flagged] = True
    present = [c for c in range(len(names)) if (labels == c).any()]
    centroids = np.zeros((len(names), feats.shape[1]))
    for c in present:
        centroids[c] = _unit(_unit(feats[labels == c]).mean(0))
    rows: list[dict[str, Any]] = []
    clusters: dict[int, np.ndarray] = {}
    for c in present:
        members = np.flatnonzero(labels == c)
        flag_c = members[is_flagged[members]]
        suggested = np.bincount(predicted[flag_c], minlength=len(names)) if len(flag_c) else None
        top = int(suggested.argmax()) if suggested is not None else -1
        silhouette = minority = separation = drift = float("nan")
        resembles = ""
        clean = members[~is_flagged[members]]
        if len(clean) >= config.min_cluster_photos:
            assign, silhouette = two_cluster_split(feats[clean], config.seed)
            full = np.full(len(members), -1, dtype=np.int64)  # -1: flagged, not clustered
            full[~is_flagged[members]] = assign
            clusters[c] = full
            minority = float(min(assign.mean(), 1 - assign.mean()))
            weight = min(1.0, minority / FULL_MINORITY)
            separation = silhouette * weight
            if len(present) > 1 and minority > 0:
                raw_drift, other = minority_drift(feats[clean], assign, centroids, c)
                drift, resembles = raw_drift * weight, names[other]
        rows.append({
            "label": names[c],
            "photos": int(len(members)),
            "flagged": int(len(flag_c)),
            "flagged_share": len(flag_c) / len(members),
            "claimed_by_others": int(((predicted == c) & is_flagged & (labels != c)).sum()),
            "oof_top1": float((predicted[members] == c).mean()),
            "most_suggested": names[top] if top >= 0 else "",
            "silhouette": silhouette,
            "minority_share": minority,
            "separation": separation,
            "drift": drift,
            "resembles": resembles,
        })
    scores = [_zscores(np.array([r[key] for r in rows], dtype=np.float64))
              for key in ("flagged_share", "separation", "drift")]
    for i, row in enumerate(rows):
        row["mix_score"] = float(sum(max(z[i], 0.0) for z in scores))
    rows.sort(key=lambda r: -r["mix_score"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows, clusters


# -- the whole audit -------------------------------------------------------------------------------


def interim_groups(interim: Path | None, keys: list[str]) -> np.ndarray | None:
    """Near-duplicate group per photo from ``interim/*.csv`` (a photo alone is its own group), if readable."""
    from butterflyer.data.interim import read_split_csv

    if interim is None or not all((interim / f"{s}.csv").is_file() for s in SPLITS):
        return None
    group_of = {}
    for s in SPLITS:
        for row in read_split_csv(interim / f"{s}.csv"):
            if row["group"]:
                group_of[row["key"]] = row["group"]
    if not group_of:
        return None
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(group_of.get(k, f"photo:{k}"), len(ids)) for k in keys])


def audit(
    records: str,
    output: Path | None = None,
    config: AuditConfig = AuditConfig(),
    progress: Progress | None = None,
    interim: Path | None = None,
) -> AuditResult:
    """Audit the labels of ``records``; writes the report into ``output`` (default ``interim/``).

    ``interim`` (default ``interim/``) supplies the near-duplicate groups that keep folds apart.
    """
    from butterflyer import paths
    from butterflyer.train.features import pick_threads

    threads_before = torch.get_num_threads()
    torch.set_num_threads(pick_threads(config.threads))
    try:
        photos = photo_index(records)
        feats, ys, names = pooled_features(records, config, progress)
    finally:
        torch.set_num_threads(threads_before)
    if len(photos) != len(ys) or any(p["label_index"] != int(y) for p, y in zip(photos, ys, strict=True)):
        raise DataError(f"the feature cache does not match the records in {records}; delete "
                        f"{paths.cache_dir() / 'features'} and run the audit again.")
    output = Path(output) if output is not None else paths.interim_dir()
    interim = Path(interim) if interim is not None else paths.interim_dir()
    groups = interim_groups(interim, [p["key"] for p in photos])
    folds = fold_ids(ys, groups, config.folds, config.seed)
    def fold_done(k: int) -> None:
        if progress is not None:
            progress("out-of-fold heads", k, config.folds)

    fold_done(0)
    probs = out_of_fold_probs(feats, ys, len(names), folds, config.head_epochs, config.seed, config.min_steps,
                              fold_done)
    ranked, self_conf = label_issues(ys, probs)
    predicted = probs.argmax(1)
    for i, p in enumerate(photos):
        p.update(suggested=names[predicted[i]], self_confidence=float(self_conf[i]),
                 suggested_probability=float(probs[i, predicted[i]]), fold=int(folds[i]))
    flagged = [dict(photos[i], rank=r) for r, i in enumerate(ranked.tolist(), 1)]
    label_rows, clusters = label_table(feats, ys, probs, ranked, names, config)
    summary = {
        "records": str(records),
        "config": asdict(config),
        "photos": len(photos),
        "flagged": len(flagged),
        "flagged_by_split": {s: sum(1 for f in flagged if f["split"] == s) for s in SPLITS},
        "oof_top1": float((predicted == ys).mean()),
        "grouped_folds": groups is not None,
    }
    result = AuditResult(photos=photos, flagged=flagged, labels=label_rows, summary=summary)
    write_audit(output, result, records, clusters, ys, names)
    return result
