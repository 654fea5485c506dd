"""The identity service's app factory."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from shared.broker import Broker
from shared.service import Service
from shared.settings import Settings

NAME = "identity"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(
    settings: Settings, broker: Broker, registry: CollectorRegistry | None = None
) -> Service:
    """The identity service's parts, for `mash up` or for serving alone."""
    return Service(NAME, settings=settings, broker=broker, routers=[],
                   migrations=MIGRATIONS, registry=registry, title="MASH identity service")
