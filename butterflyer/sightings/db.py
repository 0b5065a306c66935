"""Where sightings are stored, and bringing that database's schema up to date.

``BUTTERFLYER_SIGHTINGS_URL`` takes any SQLAlchemy URL (``postgresql+psycopg://...``
for a shared server); without it the database is ``<home>/sightings.db`` (SQLite).
The first :func:`engine_for` call per URL runs ``alembic upgrade head`` on it, so a
new release's migrations apply by themselves.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from butterflyer.errors import ConfigError
from butterflyer.paths import home
from butterflyer.sightings.errors import SightingsUnavailable

URL_ENV = "BUTTERFLYER_SIGHTINGS_URL"
MIGRATIONS = Path(__file__).parent / "migrations"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url() -> str:
    """``BUTTERFLYER_SIGHTINGS_URL``, else a SQLite file under the home folder."""
    url = os.environ.get(URL_ENV, "").strip()
    return url or f"sqlite:///{home() / 'sightings.db'}"


def engine_for(url: str | None = None) -> Engine:
    """A shared engine for ``url`` (default :func:`database_url`), migrated to the newest schema."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            migrate(engine)
            _engines[url] = engine
        return engine


def _create(url: str) -> Engine:
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError, ValueError) as exc:
        raise ConfigError(f"cannot use sightings database {url!r} ({exc}); set {URL_ENV} to a SQLAlchemy "
                          "URL such as sqlite:////path/sightings.db, or unset it for the default") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # A deleted sighting must not linger in free pages: overwrite them with zeros.
    cursor.execute("PRAGMA secure_delete = ON")
    # The server and a CLI batch may write at once; wait for the lock instead of failing.
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.close()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` on ``engine`` (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise SightingsUnavailable(f"cannot open or migrate the sightings database at {engine.url!r} "
                                   f"({exc}); check the path or {URL_ENV}, and that the database is "
                                   "reachable") from exc
