"""The label audit: swapped labels are found, a two-species label stands out, nothing is changed."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from butterflyer import paths
from butterflyer.data.audit import (
    AuditConfig,
    audit,
    fold_ids,
    label_issues,
    label_table,
    out_of_fold_probs,
    two_cluster_split,
)
from butterflyer.data.audit_report import _with_section, read_flagged_keys
from butterflyer.data.collect import collect
from butterflyer.data.prepare import PrepareConfig, prepare
from butterflyer.data.records import RecordsConfig, build_records
from butterflyer.errors import ConfigError


def blobs(seed: int = 0, swap: bool = True) -> tuple[np.ndarray, np.ndarray, list[int], list[str]]:
    """Four labels as Gaussian blobs in 24-d, 90 photos each; 'MIXED' is two far-apart blobs (60 + 30).

    With ``swap``, 8 photos of each of ONE, TWO and THREE are filed under the next label.
    """
    rng = np.random.default_rng(seed)
    names = ["ONE", "TWO", "THREE", "MIXED"]
    centres = rng.normal(0, 1, (5, 24)) * 4
    xs, ys = [], []
    for c in range(3):
        xs.append(centres[c] + rng.normal(0, 1, (90, 24)))
        ys += [c] * 90
    xs.append(centres[3] + rng.normal(0, 1, (60, 24)))  # MIXED: most photos of one species ...
    xs.append(centres[4] + rng.normal(0, 1, (30, 24)))  # ... and a minority of another
    ys += [3] * 90
    y = np.array(ys)
    if not swap:
        return np.concatenate(xs).astype(np.float32), y, [], names
    swapped = [90 * c + k for c in range(3) for k in range(8)]
    y[swapped] = (y[swapped] + 1) % 3
    return np.concatenate(xs).astype(np.float32), y, swapped, names


def test_out_of_fold_confident_learning_finds_the_swapped_labels():
    x, y, swapped, names = blobs()
    folds = fold_ids(y, None, 5, seed=0)
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3, 4]
    probs = out_of_fold_probs(x, y, len(names), folds, epochs=30, seed=0)
    assert np.allclose(probs.sum(1), 1.0)
    ranked, self_conf = label_issues(y, probs)
    found = set(ranked.tolist())
    assert len(found & set(swapped)) >= 20  # of 24 (confident learning is conservative on small counts)
    assert len(found - set(swapped)) <= 2  # few false alarms on clean blobs
    assert set(ranked[:20].tolist()) <= set(swapped)  # the flags rank the swapped photos first
    assert len(set(swapped) & set(np.argsort(self_conf)[:26].tolist())) >= 23  # least self-confident


def test_groups_stay_in_one_fold():
    y = np.repeat(np.arange(3), 20)
    groups = np.arange(60) // 4  # groups of 4 photos, one label each
    folds = fold_ids(y, groups, 5, seed=3)
    for g in range(15):
        assert len(set(folds[groups == g].tolist())) == 1


def test_mixed_label_ranks_first_and_its_clusters_are_the_two_species():
    x, y, _, names = blobs(seed=1, swap=False)
    probs = out_of_fold_probs(x, y, len(names), fold_ids(y, None, 3, 0), 30, 0)
    ranked, _ = label_issues(y, probs)
    rows, clusters = label_table(x, y, probs, ranked, names, AuditConfig())
    assert rows[0]["label"] == "MIXED" and rows[0]["rank"] == 1
    assert rows[0]["minority_share"] == pytest.approx(1 / 3, abs=0.02)
    assert rows[0]["separation"] > max(r["separation"] for r in rows[1:]) + 0.3
    assign = clusters[3]
    assert len(set(assign[:60].tolist())) == 1  # a cluster per species
    assert len(set(assign[60:].tolist())) == 1
    _, one_blob = two_cluster_split(np.random.default_rng(0).normal(0, 1, (60, 24)), 0)
    assert one_blob < rows[0]["silhouette"] / 2


def test_mislabelled_outliers_do_not_make_a_label_look_mixed():
    # photos of ONE filed under TWO: confident learning flags them, and the clustering of
    # TWO's remaining photos finds no second group
    x, y, swapped, names = blobs(seed=1)
    probs = np.eye(len(names))[y] * 0.9 + 0.025
    rows, clusters = label_table(x, y, probs, np.array(swapped), names, AuditConfig())
    two = next(r for r in rows if r["label"] == "TWO")
    assert two["flagged"] == 8 and two["separation"] < 0.2
    in_two = np.flatnonzero(y == 1)
    assert (clusters[1][np.isin(in_two, swapped)] == -1).all()  # flagged photos are left out of the clusters
    assert rows[0]["label"] == "MIXED"


def test_a_minority_that_looks_like_another_label_drifts_toward_it():
    # TWO-SPECIES: 40 photos of its own kind plus 15 that look like ONE (a second species the
    # classifier would still learn as TWO-SPECIES); VIEWS: one species photographed from two sides
    rng = np.random.default_rng(4)
    c = rng.normal(0, 1, (4, 32)) * 3
    side = rng.normal(0, 1, 32) * 2.5
    parts = [(c[0], 50, 0), (c[1], 40, 1), (c[0] + rng.normal(0, 1, 32) * 1.2, 15, 1),
             (c[2], 30, 2), (c[2] + side, 25, 2), (c[3], 50, 3)]
    x = np.concatenate([centre + rng.normal(0, 1, (n, 32)) for centre, n, _ in parts]).astype(np.float32)
    y = np.concatenate([[label] * n for _, n, label in parts])
    names = ["ONE", "TWO-SPECIES", "VIEWS", "FOUR"]
    probs = np.eye(4)[y]
    rows, _ = label_table(x, y, probs, np.array([], dtype=np.int64), names, AuditConfig())
    by = {r["label"]: r for r in rows}
    assert by["TWO-SPECIES"]["resembles"] == "ONE" and by["TWO-SPECIES"]["drift"] > 0.1
    assert by["TWO-SPECIES"]["drift"] > by["VIEWS"]["drift"] + 0.1  # two sides of one species stay close
    assert rows[0]["label"] == "TWO-SPECIES"


def test_report_section_is_replaced_not_stacked():
    report = "# Data report\n\n## Quarantined\n\nNone.\n"
    once = _with_section(report, "## Label audit\n\nfirst\n")
    twice = _with_section(once, "## Label audit\n\nsecond\n")
    assert twice.count("## Label audit") == 1 and "second" in twice and "first" not in twice
    assert twice.startswith(report.rstrip("\n"))
    middle = _with_section("# R\n\n## Label audit\n\nold\n\n## Later\n\nkeep\n", "## Label audit\n\nnew\n")
    assert "old" not in middle and "## Later\n\nkeep" in middle


def _photo(path: Path, colour: tuple[int, int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    arr = np.clip(rng.normal(0, 18, (48, 64, 3)) + np.array(colour), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=92)


@pytest.fixture
def audited_records(tmp_path: Path) -> tuple[str, list[str]]:
    """RED and BLUE photos (3 red photos filed under BLUE) and a MIXED label of green and yellow photos."""
    root = tmp_path / "flat"
    seed = 0
    for label, colours in (("RED", [(200, 40, 40)] * 24), ("BLUE", [(40, 40, 200)] * 24),
                           ("MIXED", [(40, 190, 40)] * 16 + [(220, 220, 30)] * 8)):
        for k, colour in enumerate(colours):
            seed += 1
            _photo(root / label / f"{k:02d}.jpg", colour, seed)
    swapped = [f"BLUE/x{k}.jpg" for k in range(3)]
    for k, key in enumerate(swapped):
        _photo(root / key, (200, 40, 40), 900 + k)
    collect(root)
    prepare(config=PrepareConfig(workers=1, near_threshold=-1))
    records = tmp_path / "records"
    build_records(paths.interim_dir(), str(records), config=RecordsConfig(workers=1))
    return str(records), swapped


@pytest.mark.slow
def test_audit_end_to_end_writes_the_report_and_never_changes_data(audited_records, tmp_path: Path):
    import torch

    torch.set_num_threads(1)
    records, swapped = audited_records
    interim = paths.interim_dir()
    before = {p.name: p.read_bytes() for p in interim.glob("*.csv")}
    result = audit(records, config=AuditConfig(model="tiny", folds=3, min_cluster_photos=8))
    blue = sorted((p for p in result.photos if p["label"] == "BLUE"), key=lambda p: p["self_confidence"])
    assert {p["key"] for p in blue[:3]} == set(swapped)  # the least plausible BLUE photos are the red ones
    assert all(p["suggested"] == "RED" for p in blue[:3])
    assert result.flagged and {f["key"] for f in result.flagged} <= set(swapped)
    mixed = max(result.labels, key=lambda r: r["separation"])
    assert mixed["label"] == "MIXED" and mixed["minority_share"] == pytest.approx(1 / 3)
    for name in ("audit_photos.csv", "audit_labels.csv", "audit.json", "audit.md", "audit_photos.png",
                 "audit_labels.png"):
        assert (interim / name).is_file(), name
    assert {p.name: p.read_bytes() for p in interim.glob("*.csv") if not p.name.startswith("audit")} == before
    with open(interim / "audit_labels.csv", newline="") as fh:
        assert {r["label"] for r in csv.DictReader(fh)} == {"RED", "BLUE", "MIXED"}
    sheet = Image.open(interim / "audit_photos.png")
    assert sheet.width > 150 * 4 and np.asarray(sheet).std() > 10  # thumbnails, not a blank page
    report = (interim / "report.md").read_text()
    assert report.count("## Label audit") == 1 and "MIXED" in report

    # prepare --exclude-audit: flagged photos leave train only, and the report counts them
    flagged = read_flagged_keys(interim / "audit_photos.csv")
    by_split = {f["key"]: f["split"] for f in result.flagged}
    summary = prepare(config=PrepareConfig(workers=1, near_threshold=-1,
                                           exclude_audit=str(interim / "audit_photos.csv")))
    ex = summary["audit_excluded"]
    assert ex["dropped_from_train"] == sum(1 for s in by_split.values() if s == "train") > 0
    assert ex["kept_in_val_test"] == len(flagged) - ex["dropped_from_train"]
    with open(interim / "train.csv", newline="") as fh:
        assert not flagged & {r["key"] for r in csv.DictReader(fh)}
    for split in ("val", "test"):
        with open(interim / f"{split}.csv", newline="") as fh:
            assert ({k for k, s in by_split.items() if s == split}
                    <= {r["key"] for r in csv.DictReader(fh)})
    assert "left out of train" in (interim / "report.md").read_text()


def test_exclude_audit_needs_a_readable_audit_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="data audit"):
        read_flagged_keys(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nx\n")
    with pytest.raises(ConfigError, match="key"):
        read_flagged_keys(bad)


@pytest.mark.slow
def test_cli_audit_and_prepare_exclude(audited_records):
    from typer.testing import CliRunner

    from butterflyer.cli.main import app

    records, _ = audited_records
    runner = CliRunner()
    result = runner.invoke(app, ["data", "audit", "--records", records, "--model", "tiny", "--folds", "3",
                                 "--show", "RED"])
    assert result.exit_code == 0, result.output
    assert "flagged" in result.output and "audit.md" in result.output.replace("\n", "")
    assert "out-of-fold heads" in result.output and "3/3" in result.output
    audit_csv = paths.interim_dir() / "audit_photos.csv"
    result = runner.invoke(app, ["data", "prepare", "--workers", "1", "--near-threshold", "-1",
                                 "--exclude-audit", str(audit_csv)])
    assert result.exit_code == 0, result.output
    assert "left out of train" in result.output
    result = runner.invoke(app, ["data", "prepare", "--exclude-audit", str(audit_csv.with_name("nope.csv"))])
    assert isinstance(result.exception, ConfigError) and "data audit" in str(result.exception)
