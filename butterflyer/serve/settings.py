"""Typed settings for the identification service and the ``identify`` command.

Defaults come from the class, then ``BUTTERFLYER_SERVE_*`` environment variables,
then explicit keyword arguments (the CLI flags). Unsafe values are refused when
the settings are built, not when the first request arrives.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from butterflyer.errors import ConfigError

ENV_PREFIX = "BUTTERFLYER_SERVE_"
DEFAULT_MODEL_URI = "models:/butterflyer@champion"


def default_concurrency(cores: int | None) -> int:
    """Inferences at once: one more than the cores, up to 8.

    ONNX Runtime and Pillow release the GIL, but each inference's Python steps (roll-up,
    the answer) and the HTTP event loop need it; one inference more than the cores keeps
    every core busy meanwhile (measured on 2 cores: 3 at once served 9 % more requests
    than 2, with a lower p99).
    """
    return max(1, min(8, (cores or 1) + 1))


class ServeSettings(BaseModel):
    """Everything the service needs; ``ServeSettings.from_env(**overrides)`` builds one."""

    model_uri: str = DEFAULT_MODEL_URI
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    threads: int = Field(1, ge=0, le=256, description="ONNX Runtime intra-op threads (0: let ORT choose)")
    max_upload_bytes: int = Field(10_000_000, ge=1024, le=200_000_000, description="largest upload (bytes)")
    max_pixels: int = Field(40_000_000, ge=10_000, le=200_000_000)
    min_side: int = Field(32, ge=1, le=4096)
    refresh_seconds: float = Field(30.0, ge=0.0,
                                   description="re-resolve a models:/ alias this often (0: never)")
    max_concurrency: int = Field(default_factory=lambda: default_concurrency(os.cpu_count()), ge=1, le=256,
                                 description="inferences running at once (default: cores + 1, up to 8)")
    max_queue: int = Field(64, ge=1, le=10_000, description="requests waiting for inference before 503 busy")
    max_header_bytes: int = Field(32_768, ge=1024, le=1_048_576,
                                  description="request line + headers, in bytes, before 431")
    max_headers: int = Field(100, ge=8, le=1000, description="header fields per request before 431")
    header_timeout: float = Field(10.0, gt=0.0, le=300.0,
                                  description="seconds a client has to send the request headers (408 after)")
    body_timeout: float = Field(60.0, gt=0.0, le=3600.0,
                                description="seconds a client has to send the whole body (408 after)")
    max_connections: int = Field(1000, ge=2, le=100_000,
                                 description="open connections (or requests in progress) before 503")
    keep_alive: int = Field(15, ge=1, le=600, description="seconds an idle keep-alive connection stays open")
    top_k: int = Field(5, ge=1, le=20)
    explain: bool = Field(True, description="allow explain=true (heatmaps)")
    chat: bool = Field(True, description="include the field-guide chat route when it is installed")
    species_threshold: float | None = Field(None, gt=0.0, lt=1.0,
                                            description="override the fitted roll-up thresholds")
    genus_threshold: float | None = Field(None, gt=0.0, lt=1.0)
    family_threshold: float | None = Field(None, gt=0.0, lt=1.0)
    gate_threshold: float | None = Field(None, ge=0.0, lt=1.0,
                                         description="override the gate's bar (a similarity for a fitted "
                                                     "profile, a probability mass without one)")

    @field_validator("model_uri")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model_uri must not be empty; pass a model folder or models:/NAME@ALIAS")
        return value.strip()

    @classmethod
    def from_env(cls, **overrides: Any) -> ServeSettings:
        """Class defaults < ``BUTTERFLYER_SERVE_<FIELD>`` variables < non-``None`` overrides."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            env = os.environ.get(ENV_PREFIX + name.upper())
            if env is not None and env != "":
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid serve settings ({problems}); fix the flag or the "
                              f"{ENV_PREFIX}* environment variable") from exc
