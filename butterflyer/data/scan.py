"""Find the labelled images in a collected source (class folders or a Kaggle-style CSV).

Two layouts are understood:

- a CSV with a file-path column and a label column (and optionally a split
  column), like the Kaggle ``filepaths, labels, data set`` file; paths are
  relative to the CSV's folder;
- class folders, optionally under split folders: ``[train|valid|val|test/]<LABEL>/*.jpg``.

Split names are normalised (``valid``/``validation``/``dev`` become ``val``).
Files that cannot be given a label are returned as problems, not dropped.

Only image files (by suffix) decide the folder layout: a ``README.md``, ``LICENSE``
or unused ``.csv`` beside ``train/`` is listed as ``not_a_photo_file`` and never
turns the dataset's own folder into a class. :attr:`Scan.why` says in words which
layout was chosen and why; ``prepare`` puts it in the report and on the terminal.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from butterflyer.errors import DataError

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
IGNORED_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini", ".DS_Store"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
_PATH_COLS = ("filepaths", "filepath", "filename", "file", "path", "image", "imagepath")
_LABEL_COLS = ("labels", "label", "class", "classname", "species")
_SPLIT_COLS = ("dataset", "split", "set", "subset")


@dataclass
class Item:
    """One image to validate: where it is and what the source says about it."""

    key: str
    path: Path
    label: str
    source_split: str = ""


@dataclass
class Scan:
    """Labelled items, files that could not be labelled, and how the source was read."""

    items: list[Item] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (key, reason, detail)
    layout: str = ""
    why: str = ""


def is_image_name(path: Path) -> bool:
    """True when the file's suffix is an image format (the bytes are checked later)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def _ignored(rel: Path) -> bool:
    return any(part in IGNORED_NAMES or part.startswith(".") for part in rel.parts)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not _ignored(p.relative_to(root)))


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _find_csv(root: Path) -> tuple[Path, dict[str, str]] | None:
    for path in sorted(root.rglob("*.csv"), key=lambda p: (len(p.parts), str(p))):
        if _ignored(path.relative_to(root)) or len(path.relative_to(root).parts) > 3:
            continue
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            header = next(csv.reader(fh), [])
        cols = {_norm(h): h for h in header}
        pick = {}
        for role, names in (("path", _PATH_COLS), ("label", _LABEL_COLS), ("split", _SPLIT_COLS)):
            found = next((cols[n] for n in names if n in cols), None)
            if found is not None:
                pick[role] = found
        if "path" in pick and "label" in pick:
            return path, pick
    return None


def _scan_csv(root: Path, csv_path: Path, cols: dict[str, str]) -> Scan:
    rel_csv = csv_path.relative_to(root).as_posix()
    why = f"{rel_csv} has a file-path column '{cols['path']}' and a label column '{cols['label']}'"
    if "split" in cols:
        why += f" and a split column '{cols['split']}'"
    scan = Scan(layout=f"csv:{rel_csv}", why=why)
    base = csv_path.parent
    listed: set[Path] = {csv_path.resolve()}
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            rel = (row.get(cols["path"]) or "").strip().replace("\\", "/")
            label = (row.get(cols["label"]) or "").strip()
            split_raw = (row.get(cols["split"]) or "").strip() if "split" in cols else ""
            where = f"{csv_path.name}:{line}"
            if not rel or not label:
                scan.problems.append((where, "bad_csv_row", "the row lacks a file path or a label"))
                continue
            path = (base / rel).resolve()
            if root.resolve() not in path.parents:
                scan.problems.append((rel, "bad_csv_row", f"{where}: the path points outside the source"))
                continue
            split = SPLIT_ALIASES.get(split_raw.lower(), "")
            if split_raw and not split:
                scan.problems.append((rel, "bad_csv_row", f"{where}: unknown split '{split_raw}'"))
                continue
            if path in listed:
                scan.problems.append((rel, "bad_csv_row", f"{where}: the file is listed twice"))
                continue
            listed.add(path)
            key = path.relative_to(root.resolve()).as_posix()
            if not path.is_file():
                scan.problems.append(
                    (key, "missing_file", f"{where}: listed in the CSV but not in the source")
                )
                continue
            scan.items.append(Item(key, path, label, split))
    for path in _files(root):
        if path.resolve() not in listed:
            scan.problems.append(
                (
                    path.relative_to(root).as_posix(),
                    "not_in_csv",
                    f"present in the source but not listed in {csv_path.name}",
                )
            )
    return scan


def _children(folder: Path, root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Sub-folders holding photos, image files and other files directly in ``folder``.

    Hidden and system names are left out, and so are folders without a single image file
    (``docs/``, ``licenses/``): they cannot be classes or splits.
    """
    entries = sorted(p for p in folder.iterdir() if not _ignored(p.relative_to(root)))
    dirs = [p for p in entries if p.is_dir() and any(is_image_name(f) for f in _files(p))]
    files = [p for p in entries if p.is_file()]
    return dirs, [p for p in files if is_image_name(p)], [p for p in files if not is_image_name(p)]


def _content_root(root: Path) -> Path:
    """Skip wrapper folders at the top of a source: a lone sub-folder with no photos of its own.

    Other files (a README, a licence) beside the lone folder, or inside it, do not stop the
    descent: they say nothing about the labels.
    """
    current = root
    while True:
        dirs, photos, _ = _children(current, root)
        if len(dirs) == 1 and not photos:
            inner_dirs, inner_photos, _ = _children(dirs[0], root)
            if inner_dirs and not inner_photos:
                current = dirs[0]
                continue
        return current


def _scan_folders(root: Path) -> Scan:
    top = _content_root(root)
    dirs, _, _ = _children(top, root)
    subdirs = {p.name: p for p in dirs}
    split_dirs = {name: SPLIT_ALIASES[name.lower()] for name in subdirs if name.lower() in SPLIT_ALIASES}
    by_split = bool(split_dirs) and len(split_dirs) == len(subdirs)
    where = top.relative_to(root).as_posix()
    at = "the top" if where == "." else f"'{where}/'"
    if by_split:
        why = (f"the folders at {at} are all split names ({', '.join(sorted(split_dirs))}), "
               "so each holds one folder per class")
    else:
        why = f"each folder at {at} is taken as a class ({len(subdirs)} folders)"
    if top != root:
        why += "; wrapper folders above it were skipped"
    scan = Scan(layout="split/class folders" if by_split else "class folders", why=why)
    bases = (
        [(subdirs[name], split) for name, split in sorted(split_dirs.items())] if by_split else [(top, "")]
    )
    for base, split in bases:
        for path in _files(base):
            rel = path.relative_to(base)
            key = path.relative_to(root).as_posix()
            if len(rel.parts) < 2:
                reason, detail = (
                    ("no_label", "the photo is not inside a class folder") if is_image_name(path)
                    else ("not_a_photo_file", "not an image file; ignored")
                )
                scan.problems.append((key, reason, detail))
                continue
            scan.items.append(Item(key, path, rel.parts[0].strip(), split))
    inside = {p for base, _ in bases for p in _files(base)}
    for path in _files(root):
        if path in inside:
            continue
        key = path.relative_to(root).as_posix()
        if is_image_name(path):
            scan.problems.append((key, "no_label", "the photo is not inside a split/class folder"))
        else:
            scan.problems.append((key, "not_a_photo_file", "not an image file; ignored when reading "
                                                            "the layout"))
    ignored = sum(1 for _, reason, _ in scan.problems if reason == "not_a_photo_file")
    if ignored:
        scan.why += f"; {ignored} file(s) that are not photos were ignored (e.g. README, LICENSE)"
    return scan


def scan_source(root: Path) -> Scan:
    """Labelled items of a collected source folder (CSV first, else folders)."""
    if not root.is_dir():
        raise DataError(f"{root} is not a folder. Run 'butterflyer data collect SOURCE' first.")
    found = _find_csv(root)
    scan = _scan_csv(root, *found) if found else _scan_folders(root)
    if not scan.items:
        raise DataError(
            f"found no labelled images in {root} (layout: {scan.layout}). Put each class in its own "
            "folder (e.g. train/MONARCH/001.jpg) or add a CSV with 'filepaths' and 'labels' columns."
        )
    return scan
