"""W3C trace context and the CloudEvents envelope."""

from __future__ import annotations

import json

from shared.events import CloudEvent
from shared.tracing import TraceContext, accept_request_id, trace_var

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_continued_in_a_new_span_of_the_same_trace() -> None:
    child = TraceContext.continue_from(VALID)
    assert child.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert child.span_id != "00f067aa0ba902b7"
    assert child.traceparent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")


def test_malformed_or_all_zero_traceparents_start_a_new_trace() -> None:
    for header in ("garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                   "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", None):
        assert TraceContext.parse(header) is None
        assert TraceContext.continue_from(header).trace_id != "4bf92f3577b34da6a3ce929d0e0e4736"


def test_request_ids_are_kept_only_when_they_look_like_ids() -> None:
    assert accept_request_id("abc-123-def-456") == "abc-123-def-456"
    injected = accept_request_id('x"\n{"level":"ERROR"}')
    assert injected != 'x"\n{"level":"ERROR"}' and len(injected) == 36


def test_cloudevent_round_trips_and_picks_up_the_current_trace() -> None:
    token = trace_var.set(TraceContext.continue_from(VALID))
    try:
        event = CloudEvent(source="/services/referral", type="mash.referral.received",
                           subject="r-1", data={"referral_id": "r-1"})
    finally:
        trace_var.reset(token)
    body = json.loads(event.to_json())
    assert body["specversion"] == "1.0"
    assert {"id", "source", "type", "time", "datacontenttype", "data"} <= body.keys()
    assert body["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert CloudEvent.from_json(event.to_json()) == event
