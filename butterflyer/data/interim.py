"""The interim format shared by ``prepare`` (writer) and ``build-records`` (reader).

``interim/`` holds one CSV per split (``train.csv``, ``val.csv``, ``test.csv``)
with the columns in :data:`COLUMNS`, and ``labels.json`` (a JSON list; the index
of a name is its class id). ``path`` is where the image lives now (a local path
or an fsspec URI); ``key`` is its path inside the collected source.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from butterflyer.errors import DataError
from butterflyer.fileio import atomic_write_text

COLUMNS = (
    "key",
    "path",
    "label",
    "label_index",
    "split",
    "sha256",
    "bytes",
    "width",
    "height",
    "group",
    "source_split",
)
INT_COLUMNS = ("label_index", "bytes", "width", "height")
SPLITS = ("train", "val", "test")
LABELS_FILE = "labels.json"


def write_split_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write one split's rows atomically, columns in the fixed order."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())


def read_split_csv(path: Path) -> list[dict[str, Any]]:
    """Read one split's rows, integers parsed."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise DataError(
                f"{path} lacks columns {sorted(missing)}; it was not written by "
                "'butterflyer data prepare'. Run prepare again."
            )
        rows = []
        for row in reader:
            for col in INT_COLUMNS:
                row[col] = int(row[col])
            rows.append(row)
    return rows


def read_labels_file(folder: Path) -> list[str]:
    """The label list written by prepare."""
    path = folder / LABELS_FILE
    if not path.is_file():
        raise DataError(f"{path} is missing. Run 'butterflyer data prepare' first.")
    labels = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise DataError(f"{path} must be a JSON list of label names. Run 'butterflyer data prepare' again.")
    return labels


def read_interim(folder: Path) -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
    """Labels and the rows of every split present in ``folder``."""
    if not folder.is_dir():
        raise DataError(
            f"{folder} does not exist. Run 'butterflyer data collect SOURCE' and "
            "'butterflyer data prepare' first."
        )
    labels = read_labels_file(folder)
    splits = {s: read_split_csv(folder / f"{s}.csv") for s in SPLITS if (folder / f"{s}.csv").is_file()}
    if not splits or not any(splits.values()):
        raise DataError(f"{folder} has no split CSVs with rows. Run 'butterflyer data prepare' first.")
    return labels, splits
