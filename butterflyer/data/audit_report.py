"""The label audit's report: CSVs, a summary JSON, two PNG contact sheets and a markdown section.

Files (in the data report folder, ``interim/`` by default):

- ``audit_photos.csv``: every flagged photo, most suspect first (given label,
  suggested label, self-confidence); ``prepare --exclude-audit`` reads its ``key`` column;
- ``audit_labels.csv``: every label with its flagged share, two-cluster silhouette and mix score;
- ``audit_photos.png``: thumbnails of the top flagged photos;
- ``audit_labels.png``: for the most suspect labels, a few photos from each of their two clusters;
- ``audit.json``: the summary; ``audit.md``: the markdown section, also placed in ``report.md``.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from butterflyer.fileio import atomic_open, atomic_write_json, atomic_write_text

PHOTOS_CSV = "audit_photos.csv"
LABELS_CSV = "audit_labels.csv"
PHOTOS_PNG = "audit_photos.png"
LABELS_PNG = "audit_labels.png"
SECTION = "## Label audit"
PHOTO_COLUMNS = ["rank", "key", "split", "label", "suggested", "self_confidence", "suggested_probability",
                 "fold"]
LABEL_COLUMNS = ["rank", "label", "photos", "flagged", "flagged_share", "claimed_by_others", "oof_top1",
                 "most_suggested", "silhouette", "minority_share", "separation", "drift", "resembles",
                 "mix_score"]
SHEET_PHOTOS = 40
SHEET_LABELS = 8
PER_CLUSTER = 5
TILE = 150
LISTED = 15


@dataclass
class AuditResult:
    """What :func:`butterflyer.data.audit.audit` found: photos, flagged photos, labels, a summary."""

    photos: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
    return buf.getvalue()


def read_flagged_keys(path: Path) -> set[str]:
    """The ``key`` column of an ``audit_photos.csv`` (what ``prepare --exclude-audit`` drops from train)."""
    from butterflyer.errors import ConfigError

    if not Path(path).is_file():
        raise ConfigError(f"{path} does not exist; run 'butterflyer data audit' first, or fix the path.")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if "key" not in (reader.fieldnames or ()):
            raise ConfigError(f"{path} has no 'key' column; pass the {PHOTOS_CSV} that the audit wrote.")
        return {row["key"] for row in reader if row["key"]}


def _thumbnails(records: str, keys: set[str]) -> dict[str, Image.Image]:
    from butterflyer.data.manifest import read_manifest
    from butterflyer.data.reader import iter_examples

    out: dict[str, Image.Image] = {}
    for split in read_manifest(records, check_shards=False)["splits"]:
        for ex in iter_examples(records, split):
            if ex["filename"] in keys:
                with Image.open(io.BytesIO(ex["encoded"])) as img:
                    thumb = img.convert("RGB")
                    thumb.thumbnail((TILE, TILE))
                out[ex["filename"]] = thumb
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _save_png(img: Image.Image, path: Path) -> None:
    with atomic_open(path, "wb") as fh:
        img.save(fh, format="PNG", optimize=True)


def photo_sheet(flagged: list[dict[str, Any]], thumbs: dict[str, Image.Image], path: Path) -> None:
    """A grid of the top flagged photos, each captioned with its given and suggested label."""
    rows = flagged[:SHEET_PHOTOS]
    cols = 8
    text_h = 44
    n_rows = max(1, -(-len(rows) // cols))
    sheet = Image.new("RGB", (cols * (TILE + 6) + 6, n_rows * (TILE + text_h + 6) + 6), "white")
    draw, font = ImageDraw.Draw(sheet), _font(11)
    for n, row in enumerate(rows):
        x = 6 + (n % cols) * (TILE + 6)
        y = 6 + (n // cols) * (TILE + text_h + 6)
        thumb = thumbs.get(row["key"])
        if thumb is not None:
            sheet.paste(thumb, (x + (TILE - thumb.width) // 2, y + (TILE - thumb.height) // 2))
        lines = [f"#{row['rank']} {row['split']} p={row['self_confidence']:.3f}",
                 f"is: {row['label'][:21]}", f"->: {row['suggested'][:21]}"]
        for k, line in enumerate(lines):
            draw.text((x, y + TILE + 2 + 13 * k), line, fill="black" if k else "#a00000", font=font)
    _save_png(sheet, path)


def label_sheet(
    label_rows: list[dict[str, Any]], samples: list[tuple[str, list[list[str]]]],
    thumbs: dict[str, Image.Image], path: Path,
) -> None:
    """One row per suspect label: its name, then photos from cluster A, a gap, photos from cluster B."""
    head_h, gap = 18, 24
    width = 6 + 2 * PER_CLUSTER * (TILE + 4) + gap
    sheet = Image.new("RGB", (width, max(1, len(samples)) * (TILE + head_h + 8) + 6), "white")
    draw, font = ImageDraw.Draw(sheet), _font(13)
    info = {r["label"]: r for r in label_rows}
    for n, (label, parts) in enumerate(samples):
        y = 6 + n * (TILE + head_h + 8)
        row = info[label]
        draw.text((6, y), f"#{row['rank']} {label}: {row['flagged']}/{row['photos']} flagged, "
                  f"silhouette {row['silhouette']:.2f}, minority {row['minority_share']:.0%} (left), "
                  f"drift {row['drift']:.2f} toward {row['resembles'] or '-'}",
                  fill="black", font=font)
        x = 6
        for part in parts:
            for key in part:
                thumb = thumbs.get(key)
                if thumb is not None:
                    at = (x + (TILE - thumb.width) // 2, y + head_h + (TILE - thumb.height) // 2)
                    sheet.paste(thumb, at)
                x += TILE + 4
            x = 6 + PER_CLUSTER * (TILE + 4) + gap
    _save_png(sheet, path)


def cluster_samples(
    label_rows: list[dict[str, Any]], clusters: dict[int, np.ndarray], labels: np.ndarray,
    names: list[str], keys: list[str], seed: int, show: tuple[str, ...] = (),
) -> list[tuple[str, list[list[str]]]]:
    """Top suspect labels and those in ``show``: a seeded sample of keys per cluster, smaller first."""
    index = {name: c for c, name in enumerate(names)}
    out = []
    extra = [r for r in label_rows[SHEET_LABELS:] if r["label"] in show]
    for row in label_rows[:SHEET_LABELS] + extra:
        c = index[row["label"]]
        if c not in clusters:
            continue
        members = np.flatnonzero(labels == c)
        parts = [[keys[i] for i in members[clusters[c] == k]] for k in (0, 1)]  # flagged ones (-1) left out
        parts.sort(key=len)
        rng = random.Random(f"{seed}:{row['label']}")
        out.append((row["label"], [rng.sample(p, min(PER_CLUSTER, len(p))) for p in parts]))
    return out


def markdown(result: AuditResult) -> str:
    """The ``## Label audit`` section."""
    s = result.summary
    by = s["flagged_by_split"]
    grouped = ", near-duplicate groups kept in one fold" if s["grouped_folds"] else ""
    lines = [
        SECTION,
        "",
        f"Out-of-fold predictions ({s['config']['folds']} folds, linear heads on pooled "
        f"`{s['config']['model']}` features{grouped}; "
        f"out-of-fold top-1 {s['oof_top1']:.1%}) and confident learning (cleanlab) flag "
        f"**{s['flagged']}** of {s['photos']} photos as likely mislabelled "
        f"(train {by.get('train', 0)}, val {by.get('val', 0)}, test {by.get('test', 0)}). "
        "Nothing was deleted or relabelled; `butterflyer data prepare --exclude-audit "
        f"{PHOTOS_CSV}` drops the flagged photos from train only.",
        "",
        "### Labels that may mix species",
        "",
        "`mix score` = the sum of the positive z-scores (each against all labels) of three signals: "
        "the flagged share; the separation (silhouette of two k-means clusters of the label's "
        "unflagged photos); the drift (how much closer the smaller cluster is to another label, "
        "`resembles`, than to the larger one). Separation and drift are weighted by the smaller "
        "cluster's share (full weight from 25 %). Two clusters can also be two sexes, or upper and "
        "under sides, of one species: look at the photos.",
        "",
        "| rank | label | photos | flagged | share | silhouette | minority | drift | resembles "
        "| most suggested | mix score |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in result.labels[:LISTED]:
        lines.append(
            f"| {r['rank']} | {r['label']} | {r['photos']} | {r['flagged']} | {r['flagged_share']:.0%} | "
            f"{r['silhouette']:.3f} | {r['minority_share']:.0%} | {r['drift']:.3f} | {r['resembles']} | "
            f"{r['most_suggested']} | "
            f"{r['mix_score']:.2f} |"
        )
    lines += ["", f"![suspect labels, two clusters each]({LABELS_PNG})", "",
              "### Likely mislabelled photos", "",
              f"All {s['flagged']} are in `{PHOTOS_CSV}`; the top {min(LISTED, s['flagged'])}:", "",
              "| rank | photo | split | given | suggested | self-confidence |", "|---:|---|---|---|---|---:|"]
    for f in result.flagged[:LISTED]:
        lines.append(f"| {f['rank']} | `{f['key']}` | {f['split']} | {f['label']} | {f['suggested']} | "
                     f"{f['self_confidence']:.3f} |")
    lines += ["", f"![top flagged photos]({PHOTOS_PNG})", ""]
    return "\n".join(lines)


def _with_section(report: str, section: str) -> str:
    """``report`` with its label-audit section replaced (or appended): reruns do not stack copies."""
    start = report.find(SECTION)
    if start < 0:
        return report.rstrip("\n") + "\n\n" + section
    rest = report.find("\n## ", start + len(SECTION))
    tail = "" if rest < 0 else report[rest:]
    return report[:start] + section.rstrip("\n") + "\n" + tail


def write_audit(
    folder: Path, result: AuditResult, records: str, clusters: dict[int, np.ndarray],
    labels: np.ndarray, names: list[str],
) -> None:
    """Write every audit file into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / PHOTOS_CSV, _csv(result.flagged, PHOTO_COLUMNS))
    atomic_write_text(folder / LABELS_CSV, _csv(result.labels, LABEL_COLUMNS))
    atomic_write_json(folder / "audit.json", result.summary)
    keys = [p["key"] for p in result.photos]
    cfg = result.summary["config"]
    samples = cluster_samples(result.labels, clusters, labels, names, keys, cfg["seed"], tuple(cfg["show"]))
    wanted = {f["key"] for f in result.flagged[:SHEET_PHOTOS]}
    wanted |= {k for _, parts in samples for part in parts for k in part}
    thumbs = _thumbnails(records, wanted)
    photo_sheet(result.flagged, thumbs, folder / PHOTOS_PNG)
    label_sheet(result.labels, samples, thumbs, folder / LABELS_PNG)
    section = markdown(result)
    atomic_write_text(folder / "audit.md", section)
    report = folder / "report.md"
    if report.is_file():
        atomic_write_text(report, _with_section(report.read_text(encoding="utf-8"), section))
