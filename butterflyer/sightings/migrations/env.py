"""Alembic environment: runs on the connection :func:`butterflyer.sightings.db.migrate` hands over.

To add a migration after changing :mod:`butterflyer.sightings.schema`, write a new
file in ``versions/`` whose ``down_revision`` is the current head.
"""

from __future__ import annotations

from alembic import context

from butterflyer.sightings.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # only migrate() calls this environment, always with a connection
    raise RuntimeError("run sightings migrations through butterflyer.sightings.db.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
