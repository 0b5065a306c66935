"""Alembic migrations for the sightings database (run by :func:`butterflyer.sightings.db.migrate`)."""
