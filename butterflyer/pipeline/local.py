"""Run the pipeline on this machine with ``kfp.local`` (each task a subprocess of this venv).

``SubprocessRunner(use_venv=False)`` runs every component with this interpreter,
where ``butterflyer`` is installed, so nothing is pip-installed. Caching is on:
the cache key of a task covers its code and its inputs, and the data and model
artifacts carry content hashes, so a rerun on unchanged data skips every task
but ``collect`` (which re-checks the source) and ``register`` (the champion may
have moved). Every task also gets the package's ``code_version``, so a code change
reaches the cache key; the steps then skip work by input and code hashes on
their own. The console shows each task's status and its progress lines, and the
run ends with what each step did (:attr:`LocalRun.steps`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from butterflyer import paths
from butterflyer.errors import ButterflyerError, ConfigError
from butterflyer.pipeline.progress import MARK

log = logging.getLogger(__name__)


@dataclass
class LocalRun:
    """What a local run did."""

    seconds: float
    params: dict[str, Any]
    champion: dict[str, Any] | None
    candidate: dict[str, Any] | None
    root: Path
    log: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)  # step, seconds, cached, reason, in order


def pipeline_root() -> Path:
    """Where kfp.local keeps per-run task folders (small: data and models stay in the home)."""
    path = paths.home() / "pipeline" / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_interpreter() -> None:
    if importlib.util.find_spec("butterflyer") is None:  # pragma: no cover - we are running butterflyer
        raise ConfigError(f"{sys.executable} cannot import butterflyer; run 'make setup' and use .venv/bin/")


def run_local(params: dict[str, Any] | None = None, *, cache: bool = True, verbose: bool = True) -> LocalRun:
    """Run the whole DAG locally and return the registry's view afterwards.

    With ``verbose=False`` the tasks' own output (kfp prints each executor's full
    input and log) goes to ``home/pipeline/logs/<time>.log`` instead of stdout; the
    orchestrator's one-line task statuses still show, and a failure prints the log's tail.
    """
    from kfp import local

    from butterflyer.pipeline.dag import build_pipeline

    _check_interpreter()
    from butterflyer.pipeline.runtime import JOURNAL_ENV
    from butterflyer.pipeline.stepcache import code_version

    values = {"home": str(paths.home()), "code_version": code_version(), **(params or {})}
    if not str(values.get("source", "")).strip():
        raise ConfigError("no data source: pass --data SOURCE (a folder, zip, tar, URL or bucket)")
    _refuse_nulls(values)
    root = pipeline_root()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True,
               enable_caching=cache, cache_root=str(root.parent / "kfp-cache"))
    pipeline = build_pipeline(gpus=0)
    log_path = root.parent / "logs" / time.strftime("%Y%m%d-%H%M%S.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    journal = log_path.with_suffix(".steps.jsonl")
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log_file:
        console = _StatusFilter(log_file, quiet=not verbose)
        try:
            with contextlib.redirect_stdout(console), warnings.catch_warnings(), \
                    _env(PYTHONUNBUFFERED="1", **{JOURNAL_ENV: str(journal)}):  # stream task logs live
                # kfp.local warns that display names, resources and images do not apply here: expected.
                warnings.filterwarnings("ignore", category=UserWarning, module=r"kfp\.local")
                warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"kfp\.local")
                pipeline(**values)
        except RuntimeError as exc:
            where = "above"
            if not verbose:
                log_file.flush()
                tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-60:]
                print("\n".join(tail), file=sys.stderr)
                where = f"above and in {log_path}"
            raise ButterflyerError(f"the local pipeline failed: {exc}. The failing task's log is {where}; "
                                   "fix it and run again (finished steps are skipped)") from exc
    seconds = time.perf_counter() - started
    return LocalRun(seconds=seconds, params=values, champion=_version("champion", values),
                    candidate=_latest(values), root=root, log=None if verbose else log_path,
                    steps=_steps(journal))


# the step adapters every run calls (deploy only after a promotion), in DAG order
DAG_STEPS = ("collect", "prepare", "build_records", "train", "evaluate", "compress", "fit_serving",
             "evaluate", "register")


def _steps(journal: Path) -> list[dict[str, Any]]:
    """What each step did: the journal the tasks wrote, plus the steps the orchestrator's cache skipped
    (a skipped task runs no code, so it writes nothing)."""
    done = []
    if journal.is_file():
        done = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines() if line.strip()]
    missing = list(DAG_STEPS)
    for entry in done:
        if entry["step"] in missing:
            missing.remove(entry["step"])
    skipped = [{"step": step, "seconds": 0.0, "cached": True,
                "reason": "orchestrator cache: inputs and code unchanged"} for step in missing]
    return done + skipped


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables (inherited by the task subprocesses) for the duration of a run."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class _StatusFilter(io.TextIOBase):
    """Everything to the log file; to the console everything (``quiet=False``) or only the task
    status lines and the steps' progress lines."""

    _STATUS = re.compile(r"(Executing task|finished with status|Running pipeline|cache hit|"
                         + re.escape(MARK) + ")")

    def __init__(self, log_file: IO[str], quiet: bool = True) -> None:
        super().__init__()
        self._log = log_file
        self._console = sys.stdout
        self._quiet = quiet
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._log.write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if not self._quiet or self._STATUS.search(line):
                self._console.write(line + "\n")
                self._console.flush()
        return len(text)

    def flush(self) -> None:
        self._log.flush()


def _refuse_nulls(value: Any, where: str = "parameters") -> None:
    """Pipeline parameters cannot hold null (kfp has no such value): say which one does."""
    if value is None:
        raise ConfigError(f"pipeline {where} is null; leave it out to use the stage's default")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nulls(item, f"{where}.{key}" if where != "parameters" else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_nulls(item, f"{where}[{i}]")


def _version(alias: str, values: dict[str, Any]) -> dict[str, Any] | None:
    from butterflyer.registry import store

    info = store.alias_version(alias, values.get("model_name", "butterflyer"))
    return info.as_dict() if info else None


def _latest(values: dict[str, Any]) -> dict[str, Any] | None:
    from butterflyer.registry import store
    from butterflyer.registry.promotion import recorded_decision

    versions = store.list_versions(values.get("model_name", "butterflyer"))
    judged = [v for v in versions if recorded_decision(v.tags)[0]]
    return judged[0].as_dict() if judged else None
