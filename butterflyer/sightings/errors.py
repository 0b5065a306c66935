"""Errors of the sightings log; the API maps them to 422, 404 and 503."""

from __future__ import annotations

from butterflyer.errors import ButterflyerError


class SightingInputError(ButterflyerError):
    """A value the user gave for a sighting cannot be stored."""


class SightingNotFound(ButterflyerError):
    """No sighting has this id."""


class SightingsUnavailable(ButterflyerError):
    """The sightings database cannot be opened, migrated, read or written."""
