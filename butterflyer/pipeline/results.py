"""What each pipeline step returns: one small typed record per step.

The components, the CLI and the step cache read these by attribute. ``uri`` is
where the output lives; :meth:`StepResult.metadata` is what becomes artifact
metadata (small values only). ``cached``, ``step_key`` and ``reason`` describe
this run, not the output, so they never reach metadata: a skipped rerun must
produce the same artifacts as the first run or downstream cache keys change.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from butterflyer.registry.promotion import Registered

T = TypeVar("T", bound="StepResult")

VOLATILE = frozenset({"cached", "step_key", "reason"})
NOT_METADATA = frozenset({"uri", "metrics", "paths", "at"}) | VOLATILE  # "at": differs on every run


@dataclass(kw_only=True)
class StepResult:
    """Common part: the output's location and how this run got it."""

    uri: str
    cached: bool = False
    step_key: str = ""
    reason: str = ""  # why the step ran or was reused (shown in the run summary)

    def metadata(self) -> dict[str, Any]:
        """Small values for the output artifact's metadata (None and empty values left out)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in NOT_METADATA or value is None or value == {}:
                continue
            out[item.name] = value
        return out

    def stored(self) -> dict[str, Any]:
        """The JSON the step cache keeps (everything but the volatile fields)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in VOLATILE}

    @classmethod
    def from_stored(cls: type[T], data: dict[str, Any]) -> T:
        """Back from :meth:`stored`; unknown keys (an older cache entry) are an error for the caller."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
        return cls(**data)

    @property
    def output_paths(self) -> list[str]:
        """Local paths that must still exist for a stored result to be reused."""
        return [self.uri, *getattr(self, "paths", [])]


@dataclass(kw_only=True)
class RawData(StepResult):
    """``collect``: the source copied into ``raw/``."""

    sha256: str
    count: int
    bytes: int
    source: str


@dataclass(kw_only=True)
class Interim(StepResult):
    """``prepare``: checked, de-duplicated, split data in ``interim/``."""

    interim_sha256: str
    counts: dict[str, int] = field(default_factory=dict)
    kept: int = 0
    quarantined: int = 0
    report: str = ""


@dataclass(kw_only=True)
class Records(StepResult):
    """``build-records``: sharded TFRecords and their manifest."""

    manifest_sha256: str
    counts: dict[str, int] = field(default_factory=dict)
    num_classes: int = 0


@dataclass(kw_only=True)
class TrainedModel(StepResult):
    """``train``: the model folder and its validation metrics."""

    metrics: dict[str, float] = field(default_factory=dict)
    run_id: str = ""


@dataclass(kw_only=True)
class Evaluation(StepResult):
    """``evaluate``: metrics (fractions) on one split and the report's markdown file."""

    metrics: dict[str, float] = field(default_factory=dict)
    report: str = ""


@dataclass(kw_only=True)
class ShippedModel(StepResult):
    """``compress``: the folder the app serves, its metrics and the compression report."""

    metrics: dict[str, float] = field(default_factory=dict)
    report: str = ""
    paths: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class ServingFit(StepResult):
    """``fit-serving``: the model folder with its fitted gate and roll-up thresholds."""

    serving_sha: str
    fitted: dict[str, float] = field(default_factory=dict)


@dataclass(kw_only=True)
class Registration(StepResult, Registered):
    """``register``: the registry version, and for a challenger the promotion decision."""


@dataclass(kw_only=True)
class Deployment(StepResult):
    """``deploy``: where the champion went live."""

    target: str
    version: int
    model_uri: str
    at: str
    vertex: dict[str, Any] = field(default_factory=dict)
