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
        # Read when /metrics is (Service.collect_metrics), like the dead letters below.
        self.outbox_unsent = Gauge(
            "mash_outbox_unsent", "Outbox events not yet confirmed by the broker",
            ["service"], registry=registry,
        )
        self.outbox_oldest_unsent = Gauge(
            "mash_outbox_oldest_unsent_seconds", "Age of the oldest outbox event not yet "
            "confirmed by the broker (0 when none waits): the outbox's lag",
            ["service"], registry=registry,
        )
        self.open_referrals = Gauge(
            "mash_open_referrals", "Referrals waiting for a decision, by status (the queue)",
            ["status"], registry=registry,
        )
        self.overdue_decisions = Gauge(
            "mash_overdue_decisions", "Open referrals past their decision deadline",
            registry=registry,
        )
        self.deliveries = Gauge(
            "mash_deliveries", "Notifications waiting to be delivered (pending, of which "
            "failing: at least one failed attempt) and given up on (dead)",
            ["status"], registry=registry,
        )
        self.ready = Gauge(
            "mash_ready", "1 when the service's database takes a write and its broker is "
            "connected (as /readyz), else 0; read when /metrics is", ["service"],
            registry=registry,
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
