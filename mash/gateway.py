"""The all-in-one app of `mash up`: every service behind an in-process gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from mash.datadir import make_private
from mash.demo import CREDENTIALS, DemoSecrets, create_demo_data
from mash.topology import SERVICES, service_for_path
from mash.web import WEB_DIR, WebClient
from shared.broker import Broker, broker_from_settings
from shared.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from shared.problems import install_problem_handlers
from shared.service import Service, combined_checks, metrics_response, readiness
from shared.settings import Settings
from shared.tracing import TraceContext, accept_request_id

log = logging.getLogger(__name__)

# Swagger UI's files, from the fastapi-offline package (kept current with Swagger UI).
SWAGGER_UI_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS_PATH = "/docs-assets"

StartupHook = Callable[["Hub"], Awaitable[None]]


class Hub:
    """Every service in one process, sharing one broker and one metrics registry."""

    def __init__(
        self, settings: Settings, *, broker: Broker | None = None, demo: bool = False,
        demo_secrets: Future[DemoSecrets] | None = None,
    ) -> None:
        """``demo_secrets``: the demo's secrets, begun before the import (`mash up`)."""
        self.settings = settings
        self.demo = demo
        self.demo_secrets = demo_secrets
        self.demo_created = False
        self.broker = broker or broker_from_settings(settings)
        self.registry = CollectorRegistry()
        self.services: dict[str, Service] = {}
        for name, factory in SERVICES.items():
            # One registry for the whole process, so /metrics is one valid exposition.
            self.services[name] = factory(settings, self.broker, self.registry)
        # In one process, services read identity's public keys straight from its store.
        identity_keys = self.services["identity"].verifier.jwks_source
        for service in self.services.values():
            service.verifier.jwks_source = identity_keys
        self.startup_hooks: list[StartupHook] = []

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Migrate every database, connect the broker, start consumers and relays."""
        make_private(self.settings.data_dir)
        for service in self.services.values():
            await service.migrate()
        await self.broker.connect()
        try:
            # Consumers first, so the first relayed event has somewhere to go.
            for service in self.services.values():
                await service.start(relay=False, consumers=True)
            if self.demo:
                await self._ensure_demo_data()
            for hook in self.startup_hooks:
                await hook(self)
            for service in self.services.values():
                service.relay.start()
            yield
        finally:
            for service in self.services.values():
                await service.stop()
            await self.broker.close()


    @property
    def demo_credentials(self) -> Path:
        """Where the demo sign-in details are written."""
        return self.settings.data_dir / CREDENTIALS

    async def _ensure_demo_data(self) -> None:
        async with self.services["identity"].database.unit_of_work() as uow:
            created = await create_demo_data(uow, self.settings.data_dir, self.settings,
                                             demo_secrets=self.demo_secrets)
            await uow.commit()
        self.demo_created = created is not None


def create_hub_app(settings: Settings, *, hub: Hub | None = None) -> ASGIApp:
    """The ASGI app `mash up` serves: gateway middleware, then a service chosen by path."""
    hub = hub or Hub(settings)
    front = FastAPI(title="MASH referral hub", version="0.1.0", openapi_url=None, docs_url=None,
                    redoc_url=None,
                    lifespan=lambda _app: hub.running())
    front.state.hub = hub
    install_problem_handlers(front)

    @front.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @front.get("/readyz", response_model=None)
    async def readyz() -> JSONResponse | dict[str, Any]:
        checks = combined_checks(list(hub.services.values()), hub.broker,
                                  settings.ready_min_free_disk_mb)
        return await readiness(checks, seconds_each=settings.ready_timeout_seconds)

    @front.get("/metrics")
    async def metrics() -> PlainTextResponse:
        await asyncio.gather(*(s.collect_metrics() for s in hub.services.values()))
        return metrics_response(hub.registry)

    @front.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        # Swagger UI from our own origin: no third-party script runs next to a staff
        # session, and the reference works on a hub without internet access.
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="MASH referral hub API",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png")

    @front.get("/openapi.json", include_in_schema=False)
    async def merged_openapi() -> dict[str, Any]:
        return merge_openapi([s.app.openapi() for s in hub.services.values()])

    front.mount(DOCS_ASSETS_PATH, StaticFiles(directory=SWAGGER_UI_ASSETS), name="docs-assets")
    if WEB_DIR.is_dir():
        front.mount("/", WebClient(WEB_DIR), name="web")

    front.add_middleware(RequestContextMiddleware, service="gateway", registry=hub.registry)
    dispatcher = PathDispatcher(front, {name: s.app for name, s in hub.services.items()})
    secured = SecurityHeadersMiddleware(dispatcher,
                                        https=settings.base_url.startswith("https://"))
    return BodySizeLimitMiddleware(GatewayHeaders(secured), max_bytes=settings.max_body_bytes)


class PathDispatcher:
    """Sends each request to the service that owns its path (like nginx's locations)."""

    def __init__(self, front: ASGIApp, services: dict[str, ASGIApp]) -> None:
        self.front = front
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            owner = service_for_path(scope["path"])
            if owner is not None:
                await self.services[owner](scope, receive, send)
                return
        await self.front(scope, receive, send)


class GatewayHeaders:
    """What nginx does in a deployment: give every request an id and a trace parent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"]
                       if k not in (b"x-request-id", b"traceparent")]
            given = dict(scope["headers"])
            request_id = accept_request_id(_text(given.get(b"x-request-id")))
            trace = TraceContext.continue_from(_text(given.get(b"traceparent")))
            headers.append((b"x-request-id", request_id.encode()))
            headers.append((b"traceparent", trace.traceparent.encode()))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


API_DESCRIPTION = """\
The public API of a Multi-Agency Safeguarding Hub: partner systems submit referrals about
children and follow them up; MASH staff triage and decide.

**Signing in.** Partner systems use OAuth2 client credentials at `POST /oauth2/token`,
authenticating with a signed client assertion (`private_key_jwt`, RFC 7523: `iss` = `sub`
= your client id, `aud` = the token endpoint URL, a unique `jti`, `exp` at most five
minutes ahead, signed with the key whose public half the hub holds) or, as a fallback,
HTTP Basic with a client secret. Send the access token as `Authorization: Bearer ...`;
it lasts at most 15 minutes. Staff sign in with `POST /api/v1/sessions` and a TOTP code;
changes made with the session cookie must carry the header `x-mash-csrf: 1`.

**Retrying.** Send an `Idempotency-Key` header with `POST /api/v1/referrals`; a retry
with the same key and body within 24 hours returns the first answer (and
`Idempotent-Replayed: true`), never a second referral. Retry with the same key after
429, 502, 503 or 504 (waiting the `Retry-After` seconds when given: a 503 means the hub's
storage is away for a moment), after 409 while the first request is still in flight, and
after a timeout or a dropped connection. Any other status is the answer: fix the request
(4xx), or quote the `request_id` if you contact the hub (500).

**Purpose.** Reads of a child's record are audited with who, when and why: say why in an
`X-Purpose` header (MASH staff default to `triage`).

**Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`,
`detail`, and for invalid input an `errors` list of `{loc, msg}` naming each field.
Token endpoint errors follow RFC 6749 section 5.2; FHIR errors are an OperationOutcome.
"""


def merge_openapi(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One OpenAPI document for the public API, from each service's own."""
    merged: dict[str, Any] = {
        "openapi": documents[0]["openapi"] if documents else "3.1.0",
        "info": {"title": "MASH referral hub", "version": "0.1.0",
                 "description": API_DESCRIPTION},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {
            "partnerSystem": {"type": "oauth2", "description": "client credentials; "
                              "authenticate with private_key_jwt or client_secret_basic",
                              "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token",
                                                              "scopes": {"mash.api": "the API"}}}},
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "staffSession": {"type": "apiKey", "in": "cookie", "name": "mash_session"},
        }},
        "security": [{"partnerSystem": []}, {"bearer": []}, {"staffSession": []}],
    }
    for document in documents:
        for path, item in document.get("paths", {}).items():
            if service_for_path(path) is not None:
                merged["paths"][path] = item
        merged["components"]["schemas"].update(
            document.get("components", {}).get("schemas", {})
        )
    return merged
