"""The referral service's app factory."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from services.referral.audit import routes as audit
from services.referral.audit.seals import AuditSealer, seal_key
from services.referral.casework import routes as casework
from services.referral.encompass import routes as encompass
from services.referral.events import REFERRAL_DECIDED, REFERRAL_RECEIVED
from services.referral.fhir import routes as fhir
from services.referral.intake import routes as intake
from services.referral.intake.writer import IntakeWriter
from services.referral.intelligence import routes as intelligence
from services.referral.intelligence.missing import ReturnInterviewScheduler
from services.referral.peers import routes as peers
from services.referral.peers.keys import peer_fernet
from services.referral.peers.runtime import PeerRuntime
from services.referral.peers.sender import PeerSender
from services.referral.peers.service import NoticeMaker
from services.referral.people import routes as people
from services.referral.queue import routes as queue
from services.referral.referrals import routes as referrals
from services.referral.reports import routes as reports
from services.referral.runtime import ReferralRuntime
from services.referral.settings import HubSettings
from services.referral.staff import record_staff_updated
from services.referral.workflow import partner_routes
from services.referral.workflow import routes as workflow
from services.referral.workflow.deadlines import DeadlineScheduler, read_queue_gauges
from services.referral.workflow.working_time import WorkingCalendar
from shared.agencies import AGENCY_UPDATED, record_agency_updated
from shared.broker import Broker
from shared.db import Database
from shared.service import Service, Subscription
from shared.settings import Settings
from shared.ssrf import UrlGuard
from shared.staff import STAFF_UPDATED

NAME = "referral"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(
    settings: Settings, broker: Broker, registry: CollectorRegistry | None = None
) -> Service:
    """The referral service's parts, for `mash up` or for serving alone."""
    database = Database(settings.database_url(NAME))
    hub = HubSettings()
    calendar = WorkingCalendar(hub)
    deadlines = DeadlineScheduler(database, poll_seconds=hub.deadline_poll_seconds)
    interviews = ReturnInterviewScheduler(database, poll_seconds=hub.deadline_poll_seconds)
    audit_key = seal_key(settings.secret_key.get_secret_value())
    sealer = AuditSealer(database, audit_key, poll_seconds=hub.audit_seal_seconds)
    peer_runtime = PeerRuntime(
        peer_fernet(settings),
        UrlGuard(allow_loopback=settings.allows_loopback_fetches(), what="peer hub URL"),
        hub, settings.issuer)
    sender = PeerSender(database, peer_runtime.fernet, peer_runtime.guard,
                        schedule=hub.peer_retry_schedule_seconds,
                        timeout=hub.peer_timeout_seconds, poll_seconds=hub.peer_poll_seconds)
    service = Service(NAME, settings=settings, broker=broker, database=database,
                   # The queue before `router`: /referrals/queue is not a referral id.
                   routers=[queue.router, reports.router, intake.router, referrals.router,
                            workflow.referrals, workflow.requests, audit.router, fhir.router,
                            casework.router, people.people, people.reviews,
                            encompass.router, encompass.inbox, intelligence.screenings,
                            intelligence.router, intelligence.tools,
                            intelligence.episodes, peers.router, peers.shares,
                            partner_routes.referrals, partner_routes.requests,
                            partner_routes.hub],
                   subscriptions=[Subscription("referral.agency-directory", [AGENCY_UPDATED],
                                               record_agency_updated),
                                  Subscription("referral.staff-directory", [STAFF_UPDATED],
                                               record_staff_updated),
                                  Subscription("referral.peer-hub-notices",
                                               [REFERRAL_RECEIVED, REFERRAL_DECIDED],
                                               NoticeMaker(hub))],
                   workers=[deadlines, interviews, sealer, sender], migrations=MIGRATIONS,
                   gauges=[read_queue_gauges],
                   registry=registry,
                   title="MASH referral service")
    service.app.state.runtime = ReferralRuntime(calendar, IntakeWriter(database, calendar),
                                                peers=peer_runtime, audit_key=audit_key)
    return service

