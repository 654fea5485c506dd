"""OpenTelemetry traces, off unless asked for.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (the standard variable; ``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_HEADERS`` and the rest are read by the SDK too), a serving process
(`mash up`, `mash serve`, `mash relay`) exports its spans over OTLP/HTTP: an HTTP server
span per request (FastAPI), a span per database statement (SQLAlchemy), client spans for
its own HTTP calls (webhooks, JWKS: httpx) and spans around RabbitMQ publishing and
consuming (aio-pika). Unset, nothing of OpenTelemetry is imported and nothing is exported.

The hub's own trace context (shared/tracing.py: request logs, the ``traceparent`` of every
event) follows the current span, so one trace runs from a partner's request through the
outbox and the broker to the consumer and, in notify, to the webhook it delivers: events
carry their ``traceparent`` in the CloudEvent, and deliveries keep it in their row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from shared.tracing import TraceContext

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

SpanKind = Literal["internal", "producer", "consumer"]
# Probes and scrapes: many a minute, of no interest in a trace.
EXCLUDED_URLS = "healthz,readyz,metrics"

_provider: TracerProvider | None = None
_enabled = False


def enabled() -> bool:
    """Whether this process records spans."""
    return _enabled


def configure_from_environment(service_name: str) -> bool:
    """Export spans over OTLP if ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; True if it is."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    start(service_name, BatchSpanProcessor(OTLPSpanExporter()))
    return True


def start(service_name: str, processor: SpanProcessor) -> None:
    """Record spans from now on, handing them to ``processor`` (an exporter's, or a test's
    in-memory one), and instrument the HTTP client and AMQP libraries."""
    global _provider, _enabled
    from opentelemetry import trace
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if _provider is None:
        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {
            "service.name": service_name}
        _provider = TracerProvider(resource=Resource.create(attributes))
        trace.set_tracer_provider(_provider)
    _provider.add_span_processor(processor)
    if not _enabled:
        HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
        AioPikaInstrumentor().instrument(tracer_provider=_provider)
        _enabled = True


def stop() -> None:
    """Stop recording (tests): apps and engines built from now on are left alone."""
    global _enabled
    if not _enabled:
        return
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    AioPikaInstrumentor().uninstrument()
    _enabled = False


def instrument_app(app: FastAPI) -> None:
    """A server span per request to ``app`` (added last, so it wraps every middleware)."""
    if not _enabled:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider,
                                       excluded_urls=EXCLUDED_URLS)


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per statement run on ``engine``."""
    if not _enabled:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # Its declared range ends before SQLAlchemy 2.1; it hooks the engine's event API
    # (before/after_cursor_execute), unchanged in 2.1, and tests/integration/test_tracing.py
    # checks that its spans arrive.
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=_provider,
                                        enable_commenter=False, skip_dep_check=True)


def current() -> TraceContext | None:
    """The current span as the hub's trace context, or None (tracing off, or no span)."""
    if not _enabled:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return TraceContext(format(context.trace_id, "032x"), format(context.span_id, "016x"),
                        format(int(context.trace_flags), "02x"))


@contextmanager
def span(name: str, traceparent: str | None, kind: SpanKind = "internal",
         attributes: Mapping[str, str] | None = None) -> Iterator[TraceContext | None]:
    """A span named ``name``, child of ``traceparent`` (an event's or a delivery's), made
    current while the block runs; yields it as the hub's trace context. Without tracing,
    yields None and records nothing."""
    if not _enabled:
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    parent = TraceContextTextMapPropagator().extract(
        {"traceparent": traceparent} if traceparent else {})
    tracer = trace.get_tracer("mash", tracer_provider=_provider)
    with tracer.start_as_current_span(name, context=parent, kind=getattr(
            trace.SpanKind, kind.upper()), attributes=dict(attributes or {})):
        yield current()
