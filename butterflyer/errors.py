"""The project's own exceptions.

Library code raises these; only the edges (CLI, API routes, pipeline components)
turn them into user-facing messages or HTTP statuses. Every message should say
what went wrong *and* how to fix it.
"""

from __future__ import annotations


class ButterflyerError(Exception):
    """Base class for every error ButterFlyer raises on purpose."""


class ConfigError(ButterflyerError):
    """A setting or flag has a value that cannot work."""


class SourceError(ButterflyerError):
    """A data source (folder, archive, URL, bucket) cannot be read."""


class ArchiveError(SourceError):
    """An archive is unsafe (path escape, link, bomb) or unreadable."""


class DataError(ButterflyerError):
    """Prepared data or records are missing, incomplete or inconsistent."""


class ImageError(ButterflyerError):
    """An image cannot be used. ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ModelError(ButterflyerError):
    """A model cannot be built, loaded or saved."""


class TrainingError(ButterflyerError):
    """Training cannot go on (no data to train on, a diverging loss)."""


class CompressionError(ButterflyerError):
    """A compression target cannot be met without breaking the model."""


class RegistryError(ButterflyerError):
    """The model registry refused an operation (unknown alias, version, ...)."""


class ChatError(ButterflyerError):
    """The field guide or the chat backend cannot answer."""
