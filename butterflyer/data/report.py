"""The data report of ``prepare``: ``report.md``, ``class_distribution.png`` and two CSVs.

``quarantine.csv`` lists every file left out with its reason; ``duplicates.csv``
every exact copy dropped and every near-duplicate pair grouped. The markdown
starts with how the source's layout was read and any warnings (or why prepare
refused the source), then summarises the counts per split, the files moved
between splits, and the same photo found under two labels, pair by pair, for a
curator to fix.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from butterflyer.fileio import atomic_open, atomic_write_text

REPORT_FILE = "report.md"
PLOT_FILE = "class_distribution.png"
LISTED = 50


def _csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def plot_distribution(path: Path, per_class: dict[str, dict[str, int]], labels: list[str]) -> None:
    """Horizontal stacked bars: images per class, one colour per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = max(3.0, 0.16 * len(labels) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height))
    left = [0] * len(labels)
    for split, colour in (("train", "#4c72b0"), ("val", "#dd8452"), ("test", "#55a868")):
        counts = [per_class.get(split, {}).get(name, 0) for name in labels]
        ax.barh(range(len(labels)), counts, left=left, color=colour, label=split, height=0.8)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(range(len(labels)), labels, fontsize=6 if len(labels) > 40 else 8)
    ax.set_ylim(len(labels) - 0.5, -0.5)  # first label on top, no empty margin
    ax.set_xlabel("images")
    ax.set_title("Images per class and split")
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


def _audit_line(excluded: dict[str, Any] | None) -> list[str]:
    if not excluded:
        return []
    return [
        f"- Label audit (`{excluded['file']}`): {excluded['dropped_from_train']} flagged photos left out "
        f"of train; {excluded['kept_in_val_test']} flagged photos kept in val/test (never dropped there)."
    ]


def write_report(
    folder: Path,
    summary: dict[str, Any],
    quarantine: list[dict[str, Any]],
    duplicates: list[dict[str, Any]],
    labels: list[str],
) -> None:
    """Write the report files into ``folder``."""
    atomic_write_text(
        folder / "quarantine.csv",
        _csv_text(sorted(quarantine, key=lambda q: q["key"]), ["key", "reason", "detail"]),
    )
    atomic_write_text(
        folder / "duplicates.csv", _csv_text(duplicates, ["kind", "key", "of", "distance", "action"])
    )
    if labels:
        plot_distribution(folder / PLOT_FILE, summary["per_class"], labels)
    else:
        (folder / PLOT_FILE).unlink(missing_ok=True)

    counts = summary["counts"]
    lines = [
        "# Data report",
        "",
        f"Source: `{summary['source']}`. Layout: {summary['layout']}, because "
        f"{summary.get('layout_reason') or 'no reason was recorded'}. "
        f"Split policy: {summary['split_policy']}.",
        "",
    ]
    if summary.get("refused"):
        lines += ["## Refused", "", f"**{summary['refused']}**", ""]
    if summary.get("warnings"):
        lines += ["## Warnings", ""] + [f"- **{w}**" for w in summary["warnings"]] + [""]
    lines += [
        "| | train | val | test | total |",
        "|---|---:|---:|---:|---:|",
        f"| images | {counts['train']} | {counts['val']} | {counts['test']} | {sum(counts.values())} |",
        "",
        f"- Files found: {summary['found']}; kept: {summary['kept']}; quarantined: {summary['quarantined']}; "
        f"classes: {summary['num_classes']}.",
        f"- Exact duplicates dropped: {summary['exact_duplicates_dropped']}.",
        "- Near-duplicate groups (same label, perceptual hash within "
        f"{summary['config']['near_threshold']} bits): "
        f"{summary['near_duplicate_groups']} groups, {summary['near_duplicate_images']} images.",
        f"- Groups that spanned splits: {summary['cross_split_groups']}; "
        f"images moved: {len(summary['moved'])}.",
        *_audit_line(summary.get("audit_excluded")),
        "",
        f"![class distribution]({PLOT_FILE})" if labels else "No class distribution: nothing was kept.",
        "",
        "## Quarantined",
        "",
    ]
    if quarantine:
        lines += [f"- {reason}: {n}" for reason, n in summary["quarantine_reasons"].items()]
        lines += ["", "| file | reason | detail |", "|---|---|---|"]
        lines += [f"| `{q['key']}` | {q['reason']} | {q['detail']} |" for q in quarantine[:LISTED]]
        if len(quarantine) > LISTED:
            lines.append(f"\n... and {len(quarantine) - LISTED} more in `quarantine.csv`.")
    else:
        lines.append("None: every file decoded.")
    conflicts = summary.get("conflicting_labels", [])
    lines += ["", "## Same photo under different labels", ""]
    if conflicts:
        lines += ["Both copies are quarantined until the labels agree; fix the wrong one.", "",
                  "| file | label | same bytes as |", "|---|---|---|"]
        lines += [f"| `{c['key']}` | {c['label']} | {c['same_as']} |" for c in conflicts]
    else:
        lines.append("None.")
    lines += ["", "## Moved between splits (duplicate groups kept together)", ""]
    if summary["moved"]:
        lines += ["| file | from | to | group |", "|---|---|---|---|"]
        lines += [f"| `{m['key']}` | {m['from']} | {m['to']} | {m['group']} |" for m in summary["moved"]]
    else:
        lines.append("None.")
    lines += ["", "## Duplicates", "", f"All pairs are in `duplicates.csv` ({len(duplicates)} rows)."]
    exact = [d for d in duplicates if d["kind"] == "exact"][:LISTED]
    if exact:
        lines += ["", "| dropped copy | kept | ", "|---|---|"]
        lines += [f"| `{d['key']}` | `{d['of']}` |" for d in exact]
    lines.append("")
    atomic_write_text(folder / REPORT_FILE, "\n".join(lines))
