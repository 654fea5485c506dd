"""The notify service's app factory."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.notify import events
from services.notify.channels.email import EmailChannel
from services.notify.channels.webhook import WebhookChannel
from services.notify.dispatcher import Dispatcher, read_delivery_gauges
from services.notify.retries import RetryPolicy
from services.notify.routes import delivery_router, subscription_router
from services.notify.runtime import NotifyRuntime
from services.notify.secret_box import SecretBox
from services.notify.service import record_delivery
from services.notify.settings import NotifySettings
from shared.agencies import AGENCY_UPDATED, record_agency_updated
from shared.broker import Broker
from shared.db import Database
from shared.service import Service, Subscription
from shared.settings import Settings
from shared.ssrf import UrlGuard

NAME = "notify"
MIGRATIONS = Path(__file__).parent / "migrations"
DIRECTORY_QUEUE = "notify.agency-directory"


def create_dispatcher(settings: NotifySettings, database: Database,
                      runtime: NotifyRuntime) -> Dispatcher:
    """The delivery dispatcher with the webhook and email channels."""
    timeout = settings.notify_webhook_timeout_seconds
    webhook = WebhookChannel(runtime.guard, runtime.secrets, timeout=timeout, clock=runtime.clock)
    email = EmailChannel(settings)
    lease = timedelta(seconds=max(timeout, settings.smtp_timeout_seconds) + 30)
    return Dispatcher(database, {webhook.name: webhook, email.name: email},
                      RetryPolicy.from_settings(settings), batch_size=settings.notify_batch_size,
                      poll_seconds=settings.notify_poll_seconds, lease=lease,
                      disable_after=timedelta(seconds=settings.notify_disable_after_seconds),
                      order_hold=timedelta(seconds=settings.notify_order_hold_seconds),
                      catch_up_per_second=settings.notify_catch_up_per_second,
                      probe_every=timedelta(seconds=settings.notify_probe_seconds),
                      clock=runtime.clock)


def create_service(
    settings: Settings, broker: Broker, registry: CollectorRegistry | None = None,
    notify_settings: NotifySettings | None = None,
) -> Service:
    """The notify service, for `mash up` or for serving alone (its runtime on app.state)."""
    own = notify_settings or NotifySettings()
    database = Database(settings.database_url(NAME))
    runtime = NotifyRuntime(
        guard=UrlGuard(allow_loopback=own.allows_loopback_webhooks(settings.environment),
                       what="webhook URL"),
        secrets=SecretBox(settings),
        secret_grace=timedelta(seconds=own.notify_secret_grace_seconds))
    route = partial(record_delivery, base_url=settings.base_url)
    service = Service(
        NAME, settings=settings, broker=broker, database=database,
        routers=[subscription_router, delivery_router],
        subscriptions=[Subscription(events.QUEUE, events.CONSUMED, route),
                       Subscription(DIRECTORY_QUEUE, [AGENCY_UPDATED], record_agency_updated)],
        migrations=MIGRATIONS, registry=registry, title="MASH notify service",
        workers=[create_dispatcher(own, database, runtime)],
        gauges=[read_delivery_gauges],
    )
    service.app.state.runtime = runtime
    return service
