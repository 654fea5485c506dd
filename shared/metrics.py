"""Prometheus metrics; one set per registry, so services can share a registry in `mash up`."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The metrics every service records, labelled by service."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.http_requests = Counter(
            "mash_http_requests", "HTTP requests answered",
            ["service", "method", "route", "status"], registry=registry,
        )
        self.http_duration = Histogram(
            "mash_http_request_duration_seconds", "Time to answer an HTTP request",
            ["service", "method", "route"], registry=registry,
        )
        self.outbox_published = Counter(
            "mash_outbox_published", "Outbox events confirmed by the broker",
            ["service"], registry=registry,
        )
        self.events_consumed = Counter(
            "mash_events_consumed", "Events handled by a consumer (duplicates excluded)",
            ["service", "consumer"], registry=registry,
        )
        self.dead_letters = Gauge(
            "mash_dead_letters", "Messages a consumer gave up on, waiting for `mash events "
            "replay` (read when /metrics is)", ["service", "queue"], registry=registry,
        )


_by_registry: WeakKeyDictionary[CollectorRegistry, Metrics] = WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry) -> Metrics:
    """The metrics living in ``registry``, created on first use."""
    if registry not in _by_registry:
        _by_registry[registry] = Metrics(registry)
    return _by_registry[registry]
