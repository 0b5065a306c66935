"""``MODEL_CARD.md``: what a registered model is for, how good it is, and where it goes wrong.

Written next to every model the registry registers (:func:`write_model_card`),
shown by ``butterflyer models show REF --card`` and served at ``GET /v1/model/card``.
Every figure comes from the folder itself: ``meta.json`` (metrics, temperature,
the fitted ``serving`` entry) and, when the training run left one beside the model,
``report-test/metrics.json`` (test-set size, most-confused pairs). Figures the folder
does not hold are reported as missing, never guessed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from butterflyer.fileio import atomic_write_text
from butterflyer.models.meta import ModelMeta

CARD_FILE = "MODEL_CARD.md"
Z95 = 1.959964

# Label problems of the "butterflies-100" photos, seen while building the field guide and the
# gate: a label's photos that are not (only) the species its name says.
KNOWN_LABEL_PROBLEMS = {
    "BANDED PEACOCK": "mixes two unrelated butterflies: Anartia fatima (the banded peacock) and "
                      "green-banded swallowtails (Papilio palinurus-type 'emerald/banded peacock' "
                      "swallowtails); the model learns one label for both",
    "HERCULES MOTH": "includes Atlas-type moths (Attacus), which also have their own label (ATLAS MOTH); "
                     "expect confusion between the two",
}
FAILURE_MODES = (
    "Mixed labels (above): a correct-looking answer may name the wrong half of a mixed class.",
    "Look-alike pairs (mimics and close relatives, e.g. monarch/viceroy/queen, the swallowtails, "
    "the blues and hairstreaks): confusion concentrates in them; the roll-up answers at genus or "
    "family level when no species is sure enough.",
    "Species outside the 100 labels: the softmax always spreads its probability over the 100 it knows. "
    "The open-set rule (when fitted) names a species only when the photo is also close to that "
    "species' training photos, else rolls up or says 'a species I don't know'; on held-out labels it "
    "still named a wrong species for most unseen-species photos (benchmarks/bench_openset.py). The gate "
    "turns away non-Lepidoptera photos, not unknown butterflies.",
    "Photo conditions unlike the training set (which is mostly centred, close-up, 224 px crops): "
    "distant, partial, blurred, caterpillar or museum-specimen photos are answered less reliably.",
)


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (good near 0 and 1, unlike p +/- z*se)."""
    if n <= 0:
        raise ValueError("the interval needs at least one trial")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _report(folder: Path) -> dict[str, Any]:
    """The training run's test report, when it sits beside (or inside) the model folder."""
    for path in (folder / "report-test" / "metrics.json", folder.parent / "report-test" / "metrics.json"):
        if path.is_file():
            try:
                found = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if isinstance(found, dict):
                return found
    return {}


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def _metric_line(name: str, value: float | None, n: int | None) -> str:
    if value is None:
        return f"| {name} | not recorded | |"
    if n:
        low, high = wilson_interval(round(value * n), n)
        return f"| {name} | {_pct(value)} | {_pct(low)} to {_pct(high)} (n = {n}) |"
    return f"| {name} | {_pct(value)} | needs the number of photos, not recorded |"


def render_model_card(folder: str | Path) -> str:
    """The card's Markdown for the model in ``folder``."""
    folder = Path(folder)
    meta = ModelMeta.load(folder)
    m = meta.metrics
    report = _report(folder)
    n_test = int(m.get("test_n") or report.get("n") or 0) or None
    n_val = int(m.get("val_n") or 0) or None
    lines = [f"# Model card: ButterFlyer {meta.architecture} v{meta.version} ({meta.stage})", "",
             "## Intended use",
             "Naming the butterfly or moth in a photo taken in the wild, for naturalists and learners, "
             f"among the {meta.num_classes} species it was trained on, with an honest genus/family "
             "roll-up or \"uncertain\" when unsure, and \"not a butterfly\" for other photos. Not for "
             "pest or conservation decisions, species outside its list, or records that nobody checks: "
             "saved sightings keep the model's answer apart from the observer's confirmation.", "",
             "## Training data",
             f"- {meta.num_classes} labels; records manifest sha256 "
             f"`{meta.data_manifest_sha256 or 'unknown'}`; "
             f"code `{meta.git_commit or 'unknown'}`; pretrained from `{meta.pretrained or 'none'}`.",
             "- Photos: the \"Butterfly & Moths Image Classification 100 species\" set (224 px crops; "
             "about 1 % of its valid/test photos are re-cropped copies of train photos, which the "
             "pipeline groups so that they never span splits).", "",
             "### Known label problems"]
    problems = [(label, text) for label, text in KNOWN_LABEL_PROBLEMS.items() if label in meta.labels]
    lines += [f"- **{label}** {text}." for label, text in problems] or ["- none known for these labels."]
    lines += ["", "## Test and held-out figures (95 % Wilson interval)", "",
              "| measure | value | 95 % interval |", "|---|---|---|",
              _metric_line("test top-1", m.get("test_top1"), n_test),
              _metric_line("test top-5", m.get("test_top5"), n_test),
              _metric_line("validation top-1", m.get("val_top1"), n_val)]
    if m.get("test_macro_f1") is not None:
        lines.append(f"| test macro-F1 | {m['test_macro_f1']:.3f} | |")
    lines += ["", "## Calibration",
              f"- Temperature {meta.temperature:.3f} (fitted on the validation split)."]
    ece, ece_cal = m.get("test_ece", report.get("ece")), m.get("test_ece_calibrated",
                                                                 report.get("ece_calibrated"))
    if ece is not None:
        after = f"{ece_cal:.3f}" if ece_cal is not None else "not measured"
        lines.append(f"- Expected calibration error (15 bins, test): {ece:.3f} before, {after} after "
                     "temperature scaling.")
    else:
        lines.append("- Expected calibration error: not recorded.")
    lines += ["", "## Not-a-butterfly gate", *_gate_lines(meta.extra.get("serving") or {})]
    lines += ["", "## Known failure modes", *[f"- {text}" for text in FAILURE_MODES]]
    confused = report.get("most_confused") or []
    if confused:
        lines += ["", "Most confused pairs on the test split (true -> predicted: count):"]
        lines += [f"- {_pair(item)}" for item in confused[:8]]
    return "\n".join(lines) + "\n"


def _pair(item: Any) -> str:
    if isinstance(item, dict):
        return f"{item.get('true')} -> {item.get('pred', item.get('predicted'))}: {item.get('count')}"
    if isinstance(item, list | tuple) and len(item) >= 3:
        return f"{item[0]} -> {item[1]}: {item[2]}"
    return str(item)


def _gate_lines(serving: dict[str, Any]) -> list[str]:
    gate, fitted = serving.get("gate") or {}, serving.get("fitted") or {}
    if not gate:
        return ["- No fitted gate in this folder: the server falls back to the ImageNet head when the "
                "model has one. Run `butterflyer fit-serving MODEL` to fit and measure it."]
    lines = [f"- Kind `{gate.get('kind', fitted.get('gate_kind', '?'))}`, threshold "
             f"{fitted.get('gate_threshold', gate.get('threshold', '?'))}, fitted on "
             f"{fitted.get('gate_images', '?')} training photos."]
    if fitted.get("tune_false_reject") is not None:
        n = fitted.get("tune_images")
        rate = float(fitted["tune_false_reject"])
        interval = ""
        if n:
            low, high = wilson_interval(round(rate * int(n)), int(n))
            interval = f" (95 % interval {_pct(low)} to {_pct(high)}, n = {n})"
        lines.append(f"- Butterfly photos wrongly turned away on the validation split: "
                     f"{_pct(rate)}{interval}.")
    measured = serving.get("measured") or {}
    if measured:
        lines.append(f"- Held-out measurement: false rejects {measured.get('false_reject_rate')}, bundled "
                     f"everyday photos turned away {measured.get('everyday_rejected')}.")
    else:
        lines.append("- Not measured on held-out photos in this folder; `butterflyer fit-serving MODEL "
                     "--measure-split test` prints the false-reject rate and the everyday photos "
                     "turned away.")
    if serving.get("thresholds"):
        t = serving["thresholds"]
        lines.append(f"- Roll-up thresholds: species {t.get('species')}, genus {t.get('genus')}, "
                     f"family {t.get('family')} (each right at least "
                     f"{_pct(float(fitted.get('target_precision', 0.95)))} of the time on validation).")
    return lines


def write_model_card(model_folder: str | Path) -> Path:
    """Write ``MODEL_CARD.md`` into ``model_folder`` (atomically) and return its path."""
    folder = Path(model_folder)
    return atomic_write_text(folder / CARD_FILE, render_model_card(folder))


def read_model_card(model_folder: str | Path) -> str:
    """The folder's ``MODEL_CARD.md``, or one rendered now for folders registered before cards existed."""
    path = Path(model_folder) / CARD_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else render_model_card(model_folder)
