"""Chat robustness: do answers survive the ways visitors wrap the same question?

Run: ``.venv/bin/python benchmarks/bench_chat_perturb.py [--rewrite prefix --rewrite typo ...]``.
Takes every dev question the bot answers right as written, rewrites it in several meaning-keeping
ways (lower case without punctuation, a greeting before it, thanks after it, one swapped pair of
letters, "could you please tell me ...", a story clause before it; and four added later as a check on
fixes made for those six: a place-greeting, a sentence of context after it, capitals, "???") and
prints, per rewrite, the share that is still right. A metamorphic check: no new labels are needed,
because the rewritten question has the same right answer. Dev questions only (held-out is never
read), so every figure here is a development figure.
"""

from __future__ import annotations

import argparse
import os
import random
import re
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_WORD = re.compile(r"[A-Za-z]{6,}")


def _lower(q: str) -> str:
    return re.sub(r"[^\w\s'-]", "", q).lower().strip()


def _typo(q: str) -> str:
    """Swap two inner letters of one long word, chosen by a seed taken from the question."""
    words = list(_WORD.finditer(q))
    if not words:
        return q
    match = random.Random(q).choice(words)
    word = match.group()
    i = random.Random(word).randrange(1, len(word) - 2)
    swapped = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return q[:match.start()] + swapped + q[match.end():]


def _please(q: str) -> str:
    return "could you please tell me " + q[0].lower() + q[1:]


REWRITES: dict[str, Callable[[str], str]] = {
    "lower": _lower,
    "prefix": lambda q: "hi there! quick question - " + q,
    "suffix": lambda q: q.rstrip() + " thanks so much!!",
    "typo": _typo,
    "please": _please,
    "story": lambda q: "we were out walking yesterday and the kids got curious. " + q,
    # added in turn 9 after the six above had guided fixes, to check those fixes on wrappings they
    # were not made for
    "hello": lambda q: "Hello from Ohio! " + q,
    "after": lambda q: q.rstrip() + " We saw one in the park this morning.",
    "shout": lambda q: q.upper(),
    "marks": lambda q: q.rstrip(" ?!.") + "???",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rewrite", action="append", choices=sorted(REWRITES),
                        help="rewrites to run (default: all)")
    parser.add_argument("--show", type=int, default=0, help="print up to N broken questions per rewrite")
    args = parser.parse_args()

    from tqdm import tqdm

    from butterflyer.chat.answer import default_engine
    from butterflyer.chat.evaluate import is_correct, load_splits

    engine = default_engine()
    questions = [q for _, q in load_splits(only=["dev"])["dev"]]
    base = [q for q in tqdm(questions, desc="as written")
            if is_correct(q, engine.ask(q.question, species_id=q.species))]
    print(f"dev questions right as written: {len(base)}/{len(questions)} (development figure)")
    for name in args.rewrite or list(REWRITES):
        rewrite = REWRITES[name]
        broken = []
        for q in tqdm(base, desc=name):
            moved = q.model_copy(update={"question": rewrite(q.question)})
            if not is_correct(moved, engine.ask(moved.question, species_id=moved.species)):
                broken.append(moved.question)
        kept = len(base) - len(broken)
        print(f"{name:7s} still right {kept}/{len(base)} = {100 * kept / max(1, len(base)):.1f} %")
        for text in broken[:args.show]:
            print(f"    broke: {text}")


if __name__ == "__main__":
    main()
