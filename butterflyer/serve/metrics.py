"""Prometheus metrics, one registry per app so several apps (tests) never collide."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    """The service's counters and histograms."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("butterflyer_identify_requests_total", "identify requests by outcome",
                                ["outcome"], registry=r)
        self.verdicts = Counter("butterflyer_identify_verdicts_total", "answers by verdict", ["verdict"],
                                registry=r)
        self.latency = Histogram("butterflyer_identify_seconds", "time to answer one identify request",
                                 buckets=LATENCY_BUCKETS, registry=r)
        # what a drifting input looks like: falling confidence, falling gate scores
        self.confidence = Histogram("butterflyer_top1_probability", "calibrated top-1 species probability",
                                    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99),
                                    registry=r)
        self.gate_score = Histogram("butterflyer_gate_score", "not-a-butterfly gate score",
                                    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), registry=r)
        self.in_flight = Gauge("butterflyer_identify_in_flight", "identify requests being processed",
                               registry=r)
        self.model_info = Gauge("butterflyer_model_info", "the model being served", ["name", "version"],
                                registry=r)
        self.model_swaps = Gauge("butterflyer_model_swaps", "models loaded since start", registry=r)
        self.ready = Gauge("butterflyer_ready", "1 when a model is loaded", registry=r)
        self.disconnects = Counter("butterflyer_client_disconnects_total",
                                   "requests whose client went away before the body was read", registry=r)
        self.refused = Counter("butterflyer_refused_total", "requests refused before the app answered them: "
                               "slow_upload, header_timeout, headers_too_large, too_many_headers",
                               ["reason"], registry=r)

    def count_event(self, kind: str) -> None:
        """Count a connection event from the body guard or the HTTP protocol."""
        if kind == "client_disconnect":
            self.disconnects.inc()
        else:
            self.refused.labels(reason=kind).inc()
