"""The notify service's app factory."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from services.notify import events
from services.notify.service import record_delivery
from shared.broker import Broker
from shared.service import Service, Subscription
from shared.settings import Settings

NAME = "notify"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(
    settings: Settings, broker: Broker, registry: CollectorRegistry | None = None
) -> Service:
    """The notify service's parts, for `mash up` or for serving alone."""
    return Service(
        NAME, settings=settings, broker=broker, routers=[],
        subscriptions=[Subscription(events.QUEUE, events.CONSUMED, record_delivery)],
        migrations=MIGRATIONS, registry=registry, title="MASH notify service",
    )
