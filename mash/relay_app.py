"""`mash relay --port P`: the relay with `/healthz`, `/readyz` and `/metrics` of its own, for
an orchestrator's probes and Prometheus (Kubernetes, compose). Without `--port` the relay
serves nothing (mash/cli.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CollectorRegistry

from mash.topology import SERVICES
from shared.broker import broker_from_settings
from shared.service import combined_checks, metrics_response, readiness
from shared.settings import Settings


def relay_app(names: list[str], settings: Settings) -> FastAPI:
    """An app whose lifespan runs the outbox relays of ``names``; it answers only health."""
    registry = CollectorRegistry()
    broker = broker_from_settings(settings)
    services = [SERVICES[name](settings, broker, registry) for name in names]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await broker.connect()
        try:
            for service in services:
                service.relay.start()
            yield
        finally:
            for service in services:
                await service.stop()
            await broker.close()

    app = FastAPI(title="mash relay", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "relay"}

    @app.get("/readyz", response_model=None)
    async def readyz() -> JSONResponse | dict[str, Any]:
        checks = combined_checks(services, broker, settings.ready_min_free_disk_mb)
        return await readiness(checks, seconds_each=settings.ready_timeout_seconds,
                               extra={"service": "relay"})

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return metrics_response(registry)

    return app
