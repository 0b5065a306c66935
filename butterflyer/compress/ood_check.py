"""Check a compressed model's not-a-butterfly gate before it ships.

A compressed model can name species as well as its teacher yet have lost what the
gate needs (measured: a pruned model distilled on butterflies let scikit-image's
cat photos through when its gate read the drifted ImageNet head). So a candidate
is checked the way it will be served: its gate is fitted on the records exactly
as ``butterflyer fit-serving`` does (and the fit stays in the folder, stamped with
the records' id, so the pipeline does not redo it), then it judges the bundled
everyday photos (:mod:`butterflyer.serve.everyday`) and the test split's
butterflies.

    check = check_ood_gate(Path("out/pruned-int8"), "records/")
    check.everyday_rejected, check.everyday_total, check.test_false_reject
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OodCheck:
    """What a fitted gate did: everyday photos turned away and test butterflies wrongly turned away."""

    kind: str
    everyday_rejected: int
    everyday_total: int
    test_false_reject: float

    def passes(self, min_fraction: float) -> bool:
        """True when at least ``min_fraction`` of the everyday photos were rejected."""
        return self.everyday_rejected >= math.ceil(min_fraction * self.everyday_total - 1e-9)


def check_ood_gate(model_dir: str | Path, records_uri: str, per_class: int | None = None, threads: int = 0
                   ) -> OodCheck:
    """Fit the serving gate into ``model_dir`` (written to its meta.json) and measure it."""
    from butterflyer.serve.fit import fit_model_folder, measure_gate, records_examples
    from butterflyer.serve.identify import Identifier
    from butterflyer.serve.settings import ServeSettings

    fit_model_folder(model_dir, records_uri, per_class=per_class, threads=threads, write=True)
    # the fitted thresholds as they are, whatever BUTTERFLYER_SERVE_* variables say
    settings = ServeSettings.model_validate({"model_uri": str(model_dir), "threads": threads})
    ident = Identifier.load(str(model_dir), settings)
    report = measure_gate(ident, records_examples(records_uri, "test"))
    verdicts = list(report["everyday"].values())
    rejected = sum(v == "not_a_butterfly" for v in verdicts)
    return OodCheck(ident.gate.kind, rejected, len(verdicts), float(report["false_reject_rate"]))
