"""Split the visitors' question pool into a dev half and a frozen held-out half.

The split is stratified by question kind (typo, pronoun, why, ...): within each kind the
questions are sorted, shuffled with ``random.Random(SEED)`` and dealt alternately, held-out
first. The held-out file is measured and reported but never used to tune rules or
thresholds; ``tests/chat/test_eval_split.py`` checks that the committed files are exactly
this split of their union, so nobody can move a question between halves by hand.
"""

from __future__ import annotations

import random
from collections import defaultdict

from butterflyer.chat.schema import EvalQuestion

SEED = 17


def split_questions(pool: list[EvalQuestion], seed: int = SEED
                    ) -> tuple[list[EvalQuestion], list[EvalQuestion]]:
    """``(dev, heldout)``: each kind dealt alternately after a seeded shuffle, held-out first."""
    by_kind: dict[str, list[EvalQuestion]] = defaultdict(list)
    for q in pool:
        by_kind[q.kind or ""].append(q)
    rng = random.Random(seed)
    dev: list[EvalQuestion] = []
    held: list[EvalQuestion] = []
    for kind in sorted(by_kind):
        items = sorted(by_kind[kind], key=lambda q: (q.question, q.species or ""))
        rng.shuffle(items)
        for i, q in enumerate(items):
            (held if i % 2 == 0 else dev).append(q)
    return dev, held
