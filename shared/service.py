"""A service's runnable parts, the same whether it runs alone or inside `mash up`."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest

from shared import otel
from shared.auth import (
    SESSION_ENDED,
    Authenticator,
    RevocationCheck,
    TokenVerifier,
    http_jwks_source,
    record_session_ended,
    revocation_check_from_table,
)
from shared.broker import Broker, BrokerUnavailable
from shared.db import Database, UnitOfWork
from shared.events import utcnow
from shared.metrics import Metrics, metrics_for
from shared.middleware import RequestContextMiddleware, SecurityHeadersMiddleware
from shared.migrations import upgrade_to_head, version_table
from shared.outbox import (
    InboxHandler,
    MessagePurger,
    OutboxRelay,
    dead_letter_counts,
    idempotent_consumer,
    outbox_backlog,
)
from shared.problems import install_problem_handlers, problem_response
from shared.runtime import freeze_start_up_objects
from shared.settings import Settings

log = logging.getLogger(__name__)


class BackgroundWorker(Protocol):
    """A loop a service runs beside its API (a relay, a scheduler, a dispatcher)."""

    def start(self) -> None:
        """Begin running in the background."""

    async def stop(self) -> None:
        """Stop, finishing or abandoning the current step safely."""


@dataclass(frozen=True)
class Subscription:
    """A queue this service consumes, the event types bound to it, and the handler."""

    queue: str
    topics: Sequence[str]
    handler: InboxHandler


# A service's own scrape-time figures: reads its database, sets gauges of ``Metrics``.
GaugeReader = Callable[[Database, Metrics], Awaitable[None]]


class Service:
    """One service: its app, database, outbox relay and consumers."""

    def __init__(
        self,
        name: str,
        *,
        settings: Settings,
        broker: Broker,
        routers: Sequence[APIRouter],
        subscriptions: Sequence[Subscription] = (),
        migrations: Path,
        title: str,
        database: Database | None = None,
        registry: CollectorRegistry | None = None,
        revocation_check: RevocationCheck | None = None,
        on_start: Sequence[Callable[[], Awaitable[None]]] = (),
        workers: Sequence[BackgroundWorker] = (),
        gauges: Sequence[GaugeReader] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.broker = broker
        self.database = database or Database(settings.database_url(name))
        self.subscriptions = list(subscriptions)
        self.on_start = list(on_start)
        self.workers = list(workers)
        self.gauges = list(gauges)
        if revocation_check is None:
            # Learn of ended staff sessions from identity's events.
            revocation_check = revocation_check_from_table(self.database)
            self.subscriptions.append(
                Subscription(f"{name}.sessions-ended", [SESSION_ENDED], record_session_ended)
            )
        self.verifier = TokenVerifier(settings.issuer, settings.api_audience,
                                      http_jwks_source(settings.jwks_location))
        self.authenticator = Authenticator(self.verifier, revocation_check)
        self.migrations = migrations
        self.registry = registry or CollectorRegistry()
        self.metrics = metrics_for(self.registry)
        published = self.metrics.outbox_published.labels(name)
        self.relay = OutboxRelay(
            self.database, broker, name=name,
            batch_size=settings.outbox_batch_size, poll_seconds=settings.outbox_poll_seconds,
            on_published=published.inc,
        )
        broker.on_reconnected(self.relay.wake)
        # The process that relays also forgets what is old (shared.outbox.purge_messages).
        self.purger = MessagePurger(
            self.database, name=name,
            retention=timedelta(days=settings.message_retention_days),
            every_seconds=settings.message_purge_seconds,
        )
        self.app = self._build_app(title, routers)

    def _build_app(self, title: str, routers: Sequence[APIRouter]) -> FastAPI:
        # No /docs of its own: the gateway serves the public API's, without a CDN.
        app = FastAPI(title=title, version="0.1.0", docs_url=None, redoc_url=None)
        app.state.service = self
        app.state.authenticator = self.authenticator
        install_problem_handlers(app)
        app.include_router(health_router())
        for router in routers:
            app.include_router(router)
        app.add_middleware(RequestContextMiddleware, service=self.name, registry=self.registry)
        app.add_middleware(SecurityHeadersMiddleware,
                           https=self.settings.base_url.startswith("https://"))
        otel.instrument_app(app)  # last: its server span wraps every middleware above
        return app

    def readiness_checks(self) -> dict[str, Check]:
        """What `/readyz` checks: the database takes a write, its disk has room (SQLite),
        the broker is connected."""
        checks = {"database": writable(self.database, self.name)}
        disk = enough_disk([self.database], self.settings.ready_min_free_disk_mb)
        if disk is not None:
            checks["disk"] = disk
        checks["broker"] = self.broker.ping
        return checks

    async def count_dead_letters(self) -> None:
        """Set the dead-letter gauge of each queue this service consumes: those kept in its
        database (`mash up`) and by the broker. A count that cannot be read is left as it
        was (a dependency being away shows in /readyz)."""
        try:
            async with asyncio.timeout(self.settings.ready_timeout_seconds):
                kept = await dead_letter_counts(self.database)
                for sub in self.subscriptions:
                    count = kept.get(sub.queue, 0) + await self.broker.dead_letter_count(sub.queue)
                    self.metrics.dead_letters.labels(self.name, sub.queue).set(count)
        except Exception as exc:
            log.warning("dead letters not counted",
                        extra={"service": self.name, "error_type": type(exc).__name__})

    async def collect_metrics(self) -> None:
        """Bring the gauges read at scrape time up to date: dead letters, the outbox's
        backlog and the service's own (``gauges``). A figure that cannot be read is left as
        it was (a dependency being away shows in /readyz)."""
        await self.count_dead_letters()
        found = await findings(self.readiness_checks(),
                               seconds_each=self.settings.ready_timeout_seconds)
        self.metrics.ready.labels(self.name).set(all(f == "ok" for f in found.values()))
        try:
            async with asyncio.timeout(self.settings.ready_timeout_seconds):
                unsent, oldest = await outbox_backlog(self.database)
                self.metrics.outbox_unsent.labels(self.name).set(unsent)
                lag = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
                self.metrics.outbox_oldest_unsent.labels(self.name).set(max(lag, 0.0))
                for read in self.gauges:
                    await read(self.database, self.metrics)
        except Exception as exc:
            log.warning("metrics not collected",
                        extra={"service": self.name, "error_type": type(exc).__name__})

    async def migrate(self) -> None:
        """Bring this service's database up to its latest migration."""
        await upgrade_to_head(self.database, self.migrations, self.name,
                              secret_key=self.settings.secret_key.get_secret_value())

    async def start(self, *, relay: bool = True, consumers: bool = True) -> None:
        """Start consuming and relaying (the broker must be connected)."""
        for hook in self.on_start:
            await hook()
        if consumers:
            for sub in self.subscriptions:
                handler = idempotent_consumer(
                    self.database, sub.queue, sub.handler,
                    on_handled=self.metrics.events_consumed.labels(self.name, sub.queue).inc,
                )
                await self.broker.subscribe(sub.queue, sub.topics, handler)
        if relay:
            self.relay.start()
            self.purger.start()
        for worker in self.workers:
            worker.start()

    async def stop(self) -> None:
        """Stop the workers and the relay, and release the database."""
        for worker in self.workers:
            await worker.stop()
        await self.purger.stop()
        await self.relay.stop()
        await self.database.dispose()

    def standalone_app(self, *, migrate: bool = False, relay: bool = True,
                       freeze_start_up: bool = False) -> FastAPI:
        """This service's app with a lifespan of its own (deployment mode). A server
        process (`mash serve`) freezes its start-up objects (shared.runtime)."""
        self.app.router.lifespan_context = lambda _app: self.serving_alone(
            migrate=migrate, relay=relay, freeze_start_up=freeze_start_up)
        return self.app

    @asynccontextmanager
    async def serving_alone(self, *, migrate: bool, relay: bool = True,
                            freeze_start_up: bool = False) -> AsyncIterator[None]:
        """Lifespan for a service in its own process: own broker connection, relay, consumers."""
        if migrate:
            await self.migrate()
        await self.broker.connect()
        try:
            await self.start(relay=relay, consumers=True)
            if freeze_start_up:
                freeze_start_up_objects()
            yield
        finally:
            await self.stop()
            await self.broker.close()


async def get_service(request: Request) -> Service:
    """The service that is handling this request (async: no thread-pool hop)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_unit_of_work(service: ServiceDep) -> AsyncIterator[UnitOfWork]:
    """One unit of work per request: committed when the handler returns, rolled back when
    it raises (a refusal, a stale version, a bug). Route handlers do not commit.

    Its scope is the handler's ("function"), so the commit runs after the reply is built
    and before a byte of it is sent: a client never gets a 2xx for a change that was not
    committed; a failed commit is answered as the error it is."""
    async with service.database.unit_of_work() as uow:
        yield uow
        await uow.commit()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


async def get_long_read(service: ServiceDep) -> AsyncIterator[UnitOfWork]:
    """A unit of work for a long read that writes nothing (shared.db.Database.long_read):
    on SQLite the event loop goes on serving other requests while it runs."""
    async with service.database.long_read() as uow:
        yield uow


LongReadDep = Annotated[UnitOfWork, Depends(get_long_read, scope="function")]

R = TypeVar("R")


def runtime_dependency(kind: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A dependency giving the service's runtime (what its factory made for its requests:
    a calendar, a key store, a URL guard), which must be a ``kind``."""

    async def runtime(request: Request) -> R:
        found = request.app.state.runtime
        if not isinstance(found, kind):
            raise TypeError(f"this service's runtime is not a {kind.__name__}")
        return found

    return runtime


def health_router() -> APIRouter:
    """`/healthz`, `/readyz` and `/metrics`, the same on every service."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz(service: ServiceDep) -> dict[str, str]:
        return {"status": "ok", "service": service.name}

    @router.get("/readyz", response_model=None)
    async def readyz(service: ServiceDep) -> JSONResponse | dict[str, Any]:
        return await readiness(service.readiness_checks(),
                               seconds_each=service.settings.ready_timeout_seconds,
                               extra={"service": service.name})

    @router.get("/metrics")
    async def metrics(service: ServiceDep) -> PlainTextResponse:
        await service.collect_metrics()
        return metrics_response(service.registry)

    return router


Check = Callable[[], Awaitable[None]]


class NotReady(Exception):
    """A readiness check's finding, worded to be shown as it is."""


def writable(database: Database, service: str) -> Check:
    """A check that ``service``'s database takes a write (rolled back: see probe_write)."""

    async def check() -> None:
        await database.probe_write(version_table(service), "version_num")

    return check


def enough_disk(databases: Iterable[Database], min_free_mb: int) -> Check | None:
    """A check that the filesystem of every SQLite database has ``min_free_mb`` free, or
    None when no database is a file here. A full disk fails commits, not reads, and a
    rolled-back write touches no disk: only the free space tells."""
    directories = sorted({db.file.parent for db in databases if db.file is not None})
    if not directories:
        return None

    async def check() -> None:
        for directory in directories:
            # In a thread: a hung filesystem must not hold the loop (the check times out).
            found = await asyncio.to_thread(os.statvfs, directory)
            free_mb = found.f_bavail * found.f_frsize // 2**20
            if free_mb < min_free_mb:
                raise NotReady(f"{free_mb} MB free for the databases, under {min_free_mb} MB")

    return check


async def readiness(
    checks: Mapping[str, Check], *, seconds_each: float, extra: dict[str, Any] | None = None
) -> JSONResponse | dict[str, Any]:
    """200 with each check's finding when every check passes, else 503 problem+json. The
    checks run at once, each given ``seconds_each``: the answer never waits longer."""
    results = await findings(checks, seconds_each=seconds_each)
    if all(v == "ok" for v in results.values()):
        return {"status": "ready", **(extra or {}), "checks": results}
    return problem_response(503, "A dependency is unavailable.", title="Not ready",
                            extra={**(extra or {}), "checks": results})


async def findings(checks: Mapping[str, Check], *, seconds_each: float) -> dict[str, str]:
    """Each check's finding ("ok", or why not), the checks run at once."""
    found = await asyncio.gather(*(_finding(check, seconds_each) for check in checks.values()))
    return dict(zip(checks, found, strict=True))


def combined_checks(services: Sequence[Service], broker: Broker,
                    min_free_mb: int) -> dict[str, Check]:
    """What a process serving several services' parts checks (`mash up`'s gateway, `mash
    relay --port`): each database takes a write, their disks have room (SQLite), the
    broker is connected."""
    checks = {f"{s.name}.database": writable(s.database, s.name) for s in services}
    disk = enough_disk([s.database for s in services], min_free_mb)
    if disk is not None:
        checks["disk"] = disk
    checks["broker"] = broker.ping
    return checks


async def _finding(check: Check, seconds: float) -> str:
    """"ok", or why not: a finding worded for show, else the error's type only."""
    try:
        async with asyncio.timeout(seconds):
            await check()
    except TimeoutError:
        return f"unavailable: no answer within {seconds:g} s"
    except (NotReady, BrokerUnavailable) as exc:
        return f"unavailable: {exc}"
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


def metrics_response(registry: CollectorRegistry) -> PlainTextResponse:
    """The Prometheus text exposition of ``registry``."""
    return PlainTextResponse(generate_latest(registry), media_type="text/plain; version=0.0.4")

