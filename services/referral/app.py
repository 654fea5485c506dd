"""The referral service's app factory."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from services.referral.routes import audit_router, router
from shared.broker import Broker
from shared.service import Service
from shared.settings import Settings

NAME = "referral"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(
    settings: Settings, broker: Broker, registry: CollectorRegistry | None = None
) -> Service:
    """The referral service's parts, for `mash up` or for serving alone."""
    return Service(NAME, settings=settings, broker=broker, routers=[router, audit_router],
                   migrations=MIGRATIONS, registry=registry, title="MASH referral service")

