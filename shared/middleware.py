"""ASGI middleware every service and the in-process gateway use."""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import otel
from shared.metrics import metrics_for
from shared.problems import problem_response
from shared.tracing import (
    REQUEST_ID_SCOPE_KEY,
    TraceContext,
    accept_request_id,
    request_id_var,
    trace_var,
)

access_log = logging.getLogger("mash.access")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Sets the request id and trace context, echoes them, and logs one access line.

    The access line names the route template (``/api/v1/referrals/{referral_id}``),
    never the query string, so search terms (names) do not reach the logs.
    """

    def __init__(self, app: ASGIApp, *, service: str, registry: CollectorRegistry) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics_for(registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        # With tracing on, the server span (begun around this middleware) is this
        # request's span; else the caller's traceparent is continued here.
        trace = otel.current() or TraceContext.continue_from(_header(scope, b"traceparent"))
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        rid_token = request_id_var.set(request_id)
        trace_token = trace_var.set(trace)
        status = 500
        started = time.perf_counter()

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"traceparent", trace.traceparent.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope.get("method", "")
            self.metrics.http_requests.labels(self.service, method, route, str(status)).inc()
            self.metrics.http_duration.labels(self.service, method, route).observe(elapsed)
            access_log.info(
                "request",
                extra={"service": self.service, "method": method, "route": route,
                       "status": status, "duration_ms": round(elapsed * 1000, 1)},
            )
            trace_var.reset(trace_token)
            request_id_var.reset(rid_token)


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return

        # Read the whole body first (it is small by definition), so an oversized chunked
        # upload is refused before any handler sees a byte of it.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, f"The request body is larger than {self.max_bytes} bytes.",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)


def _replay(chunks: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A receive callable that gives the buffered body once, then defers to ``receive``."""
    queue: list[Message] = [{"type": "http.request", "body": b"".join(chunks),
                             "more_body": False}] if pending is None else [pending]

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


# Answers under these paths carry personal data or tokens: no cache may keep them.
NO_STORE_PREFIXES = ("/api/", "/oauth2/", "/fhir/")
HSTS = b"max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """`nosniff` on every answer, `no-store` on the API's, and HSTS when served over https.

    Safe to stack (the gateway and each service both add it): a header is set once.
    """

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Answers that carry records are never stored; a refusal carries none.
                store_none = no_store and message["status"] < 400
                headers = [(k, v) for k, v in message.get("headers", [])
                           if not (store_none and k.lower() == b"cache-control")]
                present = {k.lower() for k, _ in headers}
                if store_none:
                    headers.append((b"cache-control", b"no-store"))
                if b"x-content-type-options" not in present:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if self.https and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", HSTS))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
