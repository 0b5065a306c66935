"""Label sanity checks of ``prepare``: refuse what cannot train, warn about what trains badly.

A dataset with one label trains to a meaningless "100 % test top-1", and one with no
usable photo trains to nothing, so both stop ``prepare`` with a :class:`DataError`
(exit status 2 on the command line). Labels with very few photos, or absent from
validation or test, still train, but their figures mean little: they become
warnings in ``report.md``, ``prepare.json`` and on the terminal.
"""

from __future__ import annotations

from butterflyer.errors import DataError

MIN_LABELS = 2
MIN_PHOTOS_PER_LABEL = 5


def refuse_no_photos(found: int, reasons: dict[str, int]) -> None:
    """Stop when every file was quarantined."""
    listed = ", ".join(f"{reason} {n}" for reason, n in reasons.items()) or "none"
    raise DataError(
        f"no usable photo: all {found} files were quarantined ({listed}). See quarantine.csv and "
        "report.md in the interim folder, fix or replace the files, and run prepare again."
    )


def refuse_too_few_labels(labels: list[str], layout_why: str) -> None:
    """Stop when fewer than :data:`MIN_LABELS` labels are left; the message names what was read."""
    if len(labels) >= MIN_LABELS:
        return
    found = ", ".join(repr(x) for x in labels) or "none"
    raise DataError(
        f"found {len(labels)} label(s) ({found}); a classifier needs at least {MIN_LABELS}. "
        f"The layout was read as: {layout_why}. Put each species in its own folder "
        "(e.g. train/MONARCH/001.jpg, train/VICEROY/001.jpg) or give a CSV with a label column."
    )


def label_warnings(per_class: dict[str, dict[str, int]], labels: list[str],
                   min_photos: int = MIN_PHOTOS_PER_LABEL) -> list[str]:
    """Human-readable warnings: labels with few photos, labels missing from a non-empty split."""
    warnings: list[str] = []
    totals = {name: sum(per_class.get(s, {}).get(name, 0) for s in per_class) for name in labels}
    few = sorted(name for name, n in totals.items() if n < min_photos)
    if few:
        shown = ", ".join(f"{name} ({totals[name]})" for name in few[:20])
        more = f" and {len(few) - 20} more" if len(few) > 20 else ""
        warnings.append(f"{len(few)} label(s) have fewer than {min_photos} photos: {shown}{more}. "
                        "Their accuracy figures mean little; add photos or merge the labels.")
    for split in ("val", "test"):
        counts = per_class.get(split, {})
        if not counts:
            warnings.append(f"the {split} split is empty: nothing measures the model on unseen photos "
                            "there.")
            continue
        missing = sorted(name for name in labels if counts.get(name, 0) == 0)
        if missing:
            shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
            warnings.append(f"{len(missing)} label(s) have no photo in {split}: {shown}. Their {split} "
                            "accuracy cannot be measured.")
    return warnings
