"""The model the service answers with, swappable while requests are in flight.

:class:`ModelHolder` keeps one :class:`Identifier`. A request takes a reference
once (:meth:`ModelHolder.get`) and finishes with it, so replacing the reference
never disturbs a request under way; the old session is freed when its last
request ends. A background thread re-resolves the model URI every
``refresh_seconds`` (a ``models:/`` alias moves when a model is promoted) and
:meth:`ModelHolder.refresh` does the same on demand, e.g. from the pipeline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from butterflyer.errors import ButterflyerError, ModelError
from butterflyer.models.meta import META_FILE, ONNX_FILE, WEIGHTS_FILE
from butterflyer.serve.identify import Identifier
from butterflyer.serve.onnx_cache import local_model_folder
from butterflyer.serve.session import load_served_model
from butterflyer.serve.settings import ServeSettings

log = logging.getLogger(__name__)

Fingerprint = tuple[str, ...]


def fingerprint(folder: Path) -> Fingerprint:
    """Folder plus the modification times of its model files: changes when a model is replaced."""
    parts = [str(folder)]
    for name in (META_FILE, ONNX_FILE, WEIGHTS_FILE):
        path = folder / name
        parts.append(str(path.stat().st_mtime_ns) if path.exists() else "-")
    return tuple(parts)


class NotReady(ButterflyerError):
    """No model is loaded yet (the alias may not exist); the message says why."""


class ModelHolder:
    """Holds the current :class:`Identifier` and swaps it atomically."""

    def __init__(self, settings: ServeSettings,
                 loader: Callable[[str, ServeSettings], Identifier] | None = None) -> None:
        self.settings = settings
        self._loader = loader or (lambda uri, s: Identifier.from_model(load_served_model(uri, s.threads), s))
        self._current: Identifier | None = None
        self._fingerprint: Fingerprint | None = None
        self._swap_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.swaps = 0

    def get(self) -> Identifier:
        """The current identifier, or :class:`NotReady` with the last load error."""
        current = self._current
        if current is None:
            raise NotReady(f"no model is loaded yet ({self.last_error or 'loading'}); "
                           "train and promote one, or start the server with --model PATH")
        return current

    @property
    def ready(self) -> bool:
        return self._current is not None

    def refresh(self, uri: str | None = None) -> bool:
        """Re-resolve ``uri`` (default: the configured one); load and swap if it changed.

        Returns True when a new model was swapped in. Errors keep the old model
        serving; they are recorded in ``last_error`` and re-raised.
        """
        target = uri or self.settings.model_uri
        with self._swap_lock:
            try:
                folder = local_model_folder(target)
                fp = fingerprint(folder)
                if fp == self._fingerprint and target == self.settings.model_uri:
                    return False
                fresh = self._loader(target, self.settings)
            except ButterflyerError as exc:
                self.last_error = str(exc)
                raise
            except Exception as exc:  # a broken model file must not take the server down
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise ModelError(f"cannot load {target}: {exc}") from exc
            if uri is not None:
                self.settings = self.settings.model_copy(update={"model_uri": uri})
            self._current = fresh  # one reference assignment: requests see the old or the new, whole
            self._fingerprint = fp
            self.last_error = None
            self.swaps += 1
            log.info("serving %s version %s from %s", fresh.model.name, fresh.model.version, folder)
            return True

    def try_refresh(self) -> bool:
        """:meth:`refresh` that logs instead of raising (for the background thread)."""
        try:
            return self.refresh()
        except ButterflyerError as exc:
            log.warning("model refresh failed, still serving the previous model: %s", exc)
            return False

    def start(self) -> None:
        """Load now (without failing if the model is not there yet) and start the refresh thread."""
        self.try_refresh()
        if self.settings.refresh_seconds > 0 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="butterflyer-model-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the refresh thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.refresh_seconds):
            started = time.monotonic()
            self.try_refresh()
            log.debug("model refresh check took %.3fs", time.monotonic() - started)
