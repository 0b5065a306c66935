"""Google Cloud arguments and client, shared by pipeline submission and model deployment.

:class:`GcpTarget` checks a project id and region before any call is made;
:func:`checked` turns pydantic's errors into one :class:`ConfigError` line;
:func:`aiplatform_module` imports ``google-cloud-aiplatform`` (the ``gcp`` extra)
only when a real call is made, or returns the fake a test passes in.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError, field_validator

from butterflyer.errors import ConfigError

_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def gcs_uri(value: str, what: str) -> str:
    """``value`` without a trailing slash; a ``ValueError`` naming ``what`` unless it is ``gs://...``."""
    if not value.startswith("gs://") or len(value) <= len("gs://"):
        raise ValueError(f"{what} must be a gs:// URI, got {value!r}")
    return value.rstrip("/")


class GcpTarget(BaseModel):
    """A GCP project and region, checked."""

    project: str
    region: str

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _PROJECT.match(value):
            raise ValueError(f"{value!r} is not a GCP project id (6-30 lowercase letters, digits, hyphens)")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"{value!r} is not a region such as us-central1")
        return value


def checked(model: type[BaseModel], values: dict[str, Any]) -> Any:
    """``model(**values)``, or one ConfigError line listing every bad field."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: "
                             f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())
        raise ConfigError(f"invalid Vertex AI arguments: {problems}") from exc


def aiplatform_module(module: ModuleType | None) -> Any:
    """``module`` when given (tests), else ``google.cloud.aiplatform``."""
    if module is not None:
        return module
    try:
        from google.cloud import aiplatform
    except ImportError as exc:
        raise ConfigError("google-cloud-aiplatform is not installed: pip install 'butterflyer[gcp]'") from exc
    return aiplatform
