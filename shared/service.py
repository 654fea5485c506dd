"""A service's runnable parts, the same whether it runs alone or inside `mash up`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry, generate_latest

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
from shared.metrics import metrics_for
from shared.middleware import RequestContextMiddleware
from shared.migrations import upgrade_to_head
from shared.outbox import InboxHandler, OutboxRelay, idempotent_consumer
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
    ) -> None:
        self.name = name
        self.settings = settings
        self.broker = broker
        self.database = database or Database(settings.database_url(name))
        self.subscriptions = list(subscriptions)
        self.on_start = list(on_start)
        self.workers = list(workers)
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
        self.app = self._build_app(title, routers)

    def _build_app(self, title: str, routers: Sequence[APIRouter]) -> FastAPI:
        app = FastAPI(title=title, version="0.1.0")
        app.state.service = self
        app.state.authenticator = self.authenticator
        install_problem_handlers(app)
        app.include_router(health_router())
        for router in routers:
            app.include_router(router)
        app.add_middleware(RequestContextMiddleware, service=self.name, registry=self.registry)
        return app

    async def migrate(self) -> None:
        """Bring this service's database up to its latest migration."""
        await upgrade_to_head(self.database, self.migrations, self.name)

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
        for worker in self.workers:
            worker.start()

    async def stop(self) -> None:
        """Stop the workers and the relay, and release the database."""
        for worker in self.workers:
            await worker.stop()
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


def health_router() -> APIRouter:
    """`/healthz`, `/readyz` and `/metrics`, the same on every service."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz(service: ServiceDep) -> dict[str, str]:
        return {"status": "ok", "service": service.name}

    @router.get("/readyz", response_model=None)
    async def readyz(service: ServiceDep) -> JSONResponse | dict[str, Any]:
        return await readiness({"database": service.database}, service.broker,
                               extra={"service": service.name})

    @router.get("/metrics")
    async def metrics(service: ServiceDep) -> PlainTextResponse:
        return metrics_response(service.registry)

    return router


async def readiness(
    databases: dict[str, Database], broker: Broker, *, extra: dict[str, Any] | None = None
) -> JSONResponse | dict[str, Any]:
    """200 with each check when the databases and the broker answer, else 503 problem+json."""
    checks: dict[str, str] = {}
    for name, database in databases.items():
        try:
            await database.ping()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    try:
        await broker.ping()
        checks["broker"] = "ok"
    except BrokerUnavailable as exc:
        checks["broker"] = f"unavailable: {exc}"
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", **(extra or {}), "checks": checks}
    return problem_response(503, "A dependency is unavailable.", title="Not ready",
                            extra={**(extra or {}), "checks": checks})


def metrics_response(registry: CollectorRegistry) -> PlainTextResponse:
    """The Prometheus text exposition of ``registry``."""
    return PlainTextResponse(generate_latest(registry), media_type="text/plain; version=0.0.4")

