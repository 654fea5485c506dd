"""OpenTelemetry: one trace from a partner's POST through the outbox and the broker to the
webhook notify delivers, with the database's statements in it; and nothing exported, or
even imported, unless OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import otel
from tests.helpers import eventually
from tests.integration.partners import POLICE, Intake, running_intake
from tests.webhooks import Receiver

RECEIVED = "mash.referral.received"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    otel.start("mash-test", SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        otel.stop()


@pytest.fixture
async def traced_intake(spans: InMemorySpanExporter, demo_data_dir: Path
                        ) -> AsyncIterator[Intake]:
    """The hub in the test's process (as `mash up`), built while tracing is on."""
    async with running_intake(demo_data_dir) as started:
        yield started


def named(found: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in found if s.name == name]


async def test_one_trace_runs_from_the_partners_post_to_the_webhook(
    traced_intake: Intake, spans: InMemorySpanExporter, receiver: Receiver,
) -> None:
    police = await traced_intake.as_client(POLICE)
    subscribed = await traced_intake.client.post("/api/v1/subscriptions", headers=police, json={
        "channel": "webhook", "url": receiver.url, "event_types": [RECEIVED]})
    assert subscribed.status_code == 201, subscribed.text
    spans.clear()

    posted = await traced_intake.submit()
    assert posted.status_code == 201, posted.text

    async def delivered() -> list[ReadableSpan]:
        return named(list(spans.get_finished_spans()), f"{RECEIVED} deliver")
    [deliver] = await eventually(delivered, within=15)
    assert receiver.received, "the webhook was delivered"
    assert deliver.context is not None
    trace_id = deliver.context.trace_id
    trace = [s for s in spans.get_finished_spans()
             if s.context is not None and s.context.trace_id == trace_id]

    # The partner's request begins the hub's part of the trace
    [post] = [s for s in trace if s.kind == SpanKind.SERVER
              and s.name == "POST /api/v1/referrals"]
    # (its parent is the gateway's context, passed on in `traceparent` as nginx does)
    ids = {s.context.span_id for s in trace if s.context is not None}
    assert [s for s in trace if s.parent is None or s.parent.span_id not in ids] == [post]
    # The response names the request's span: a partner can quote it to the hub's staff.
    assert posted.headers["traceparent"].split("-")[1] == format(trace_id, "032x")
    # The database's statements, inside the request.
    statements = [s for s in trace if (s.attributes or {}).get("db.system.name",
                                       (s.attributes or {}).get("db.system")) == "sqlite"]
    assert any((s.parent is not None and s.parent.span_id == post.context.span_id)  # type: ignore[union-attr]
               or (s.start_time >= post.start_time and s.end_time <= post.end_time)  # type: ignore[operator]
               for s in statements), [s.name for s in trace]
    # Through the outbox and the in-process broker: notify's consumer span, in the trace.
    [process] = [s for s in trace if s.kind == SpanKind.CONSUMER
                 and s.name == f"{RECEIVED} process"
                 and (s.attributes or {}).get("messaging.consumer.group.name", "").startswith(
                     "notify")]
    assert process.start_time >= post.start_time  # type: ignore[operator]
    # The delivery continues the consumer's span, and the webhook POST is its child.
    assert deliver.parent is not None and process.context is not None
    assert deliver.parent.span_id == process.context.span_id
    [webhook] = [s for s in trace if s.kind == SpanKind.CLIENT and s.parent is not None
                 and s.parent.span_id == deliver.context.span_id]
    attributes = webhook.attributes or {}
    assert attributes.get("url.full", attributes.get("http.url")) == receiver.url
    assert attributes.get("http.response.status_code",
                          attributes.get("http.status_code")) == 204


def test_nothing_is_traced_or_imported_without_an_otlp_endpoint(tmp_path: Path) -> None:
    probe = ("import sys; from shared import otel; "
             "on = otel.configure_from_environment('mash'); "
             "print(on, otel.enabled(), any(m.startswith('opentelemetry') for m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    off = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    assert off.stdout.split() == ["False", "False", "False"]
    on = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                        check=True, cwd=tmp_path,
                        env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert on.stdout.split() == ["True", "True", "True"]
