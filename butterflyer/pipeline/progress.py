"""Progress lines from inside a pipeline step, for the console of ``butterflyer up`` / ``pipeline run``.

A step runs in a kfp.local subprocess whose output the orchestrator relays line
by line; :func:`reporter` prints a few marked lines (at most one every
``every_s`` seconds, plus every phase change) with the elapsed time and, when
the stage says how far it is, an estimate of the time left. The quiet console
filter of :mod:`butterflyer.pipeline.local` shows exactly the marked lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

MARK = "butterflyer>"

Progress = Callable[[str, int, int], None]


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def reporter(step: str, every_s: float = 10.0) -> Progress:
    """A ``progress(message, done, total)`` callback that prints marked, throttled lines."""
    started = time.monotonic()
    last = {"at": -every_s}
    shown = {"message": ""}

    def progress(message: str, done: int, total: int) -> None:
        now = time.monotonic() - started
        if message == shown["message"] and now - last["at"] < every_s and done != total:
            return
        last["at"], shown["message"] = now, message
        where = f" {done}/{total}" if total else ""
        eta = f", about {_clock(now / done * (total - done))} left" if total and 0 < done < total else ""
        print(f"{MARK} {step}: {message}{where} ({_clock(now)} elapsed{eta})", file=sys.stdout, flush=True)

    return progress


def say(step: str, message: str) -> None:
    """One marked line (a step's start, its outcome)."""
    print(f"{MARK} {step}: {message}", file=sys.stdout, flush=True)
