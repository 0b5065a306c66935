"""Sightings: photos the user chose to keep, with when, where and what the model said.

Nothing is stored unless the user asks (``Save sighting`` on the page,
``butterflyer identify --save``, ``POST /v1/sightings``). Rows live in SQLite under
``BUTTERFLYER_HOME`` by default, or in any SQLAlchemy database named by
``BUTTERFLYER_SIGHTINGS_URL``; Alembic migrations bring the schema up to date on
first use. Modules: :mod:`.schema` (the table), :mod:`.db` (engine + migrations),
:mod:`.store` (add/list/update/delete), :mod:`.photo_meta` (EXIF, never raises),
:mod:`.thumbnail`, :mod:`.export` (CSV and Darwin Core), :mod:`.batch` and
:mod:`.report` (folders of photos).
"""
