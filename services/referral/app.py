"""The referral service's app factory."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from services.referral import encompass_routes, queue, reports, workflow_routes
from services.referral.deadlines import DeadlineScheduler
from services.referral.fhir_routes import router as fhir_router
from services.referral.people import routes as people_routes
from services.referral.routes import audit_router, router
from services.referral.workflow import default_calendar
from shared.agencies import AGENCY_UPDATED, record_agency_updated
from shared.broker import Broker
from shared.db import Database
from shared.service import Service, Subscription
from shared.settings import Settings

NAME = "referral"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(
    settings: Settings, broker: Broker, registry: CollectorRegistry | None = None
) -> Service:
    """The referral service's parts, for `mash up` or for serving alone."""
    database = Database(settings.database_url(NAME))
    deadlines = DeadlineScheduler(database,
                                  poll_seconds=default_calendar().settings.deadline_poll_seconds)
    return Service(NAME, settings=settings, broker=broker, database=database,
                   # The queue before `router`: /referrals/queue is not a referral id.
                   routers=[queue.router, reports.router, router, workflow_routes.referrals,
                            workflow_routes.requests, audit_router, fhir_router,
                            people_routes.people, people_routes.reviews, encompass_routes.router],
                   subscriptions=[Subscription("referral.agency-directory", [AGENCY_UPDATED],
                                               record_agency_updated)],
                   workers=[deadlines], migrations=MIGRATIONS, registry=registry,
                   title="MASH referral service")

