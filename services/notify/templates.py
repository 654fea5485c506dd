"""Plain-text email templates: references, statuses and links only, never names."""

from __future__ import annotations

import json
from string import Template
from typing import Any

from services.notify import events

FOOTER = ("\n\nSign in to the MASH hub to see more; what you read there is recorded.\n"
          "This message was sent by the MASH referral hub. Do not reply to it.\n")

TEMPLATES: dict[str, tuple[Template, Template]] = {
    events.REFERRAL_RECEIVED: (
        Template("Referral $reference received"),
        Template("The MASH has received your referral $reference.\n"
                 "Status: $status\nReceived at: $received_at\n\nFollow it up: $link")),
    events.REFERRAL_DECIDED: (
        Template("Referral $reference: decision made"),
        Template("The MASH has decided what happens next for referral $reference.\n"
                 "Outcome: $outcome\nStatus: $status\n\nFollow it up: $link")),
    events.INFORMATION_REQUEST_CREATED: (
        Template("Information requested for referral $reference"),
        Template("The MASH asks your agency for information about referral $reference.\n"
                 "Please respond by: $due_at\n\nRespond here: $link")),
    events.INFORMATION_REQUEST_OVERDUE: (
        Template("Overdue: information requested for referral $reference"),
        Template("The MASH's request for information about referral $reference is now "
                 "overdue.\nIt was due by: $due_at\n\nRespond here: $link")),
    events.DECISION_OVERDUE: (
        Template("Overdue decision: referral $reference"),
        Template("No decision has been recorded for referral $reference in time.\n"
                 "Status: $status\n\nOpen it: $link")),
    events.ENCOMPASS_NOTIFICATION: (
        Template("Operation Encompass: police notification $reference"),
        Template("The police have told the MASH of an incident concerning one or more of "
                 "your pupils (Operation Encompass).\nReference: $reference\n"
                 "Received at: $received_at\n\nPlease sign in before the start of the "
                 "school day to read it: $sign_in")),
    events.SUBSCRIPTION_DISABLED: (
        Template("A MASH webhook endpoint of your agency has been disabled"),
        Template("The MASH hub has stopped sending to your webhook endpoint (subscription "
                 "$subscription_id) because $reason.\nEvents meant for it are kept and can "
                 "be replayed. Fix the endpoint, then re-enable the subscription.")),
}

REASONS = {
    "endpoint_gone": "it answered 410 Gone",
    "endpoint_failing": "every attempt to reach it has failed for several days",
}


def render(payload: str) -> tuple[str, str]:
    """The subject and plain-text body of an email for a delivery's JSON payload."""
    message: dict[str, Any] = json.loads(payload)
    data: dict[str, Any] = message.get("data", {})
    links = data.get("links") if isinstance(data.get("links"), dict) else {}
    values = {key: str(value) for key, value in data.items() if key != "links"}
    values["link"] = str((links or {}).get("self", ""))
    values["sign_in"] = str((links or {}).get("sign_in", values["link"]))
    values["reason"] = REASONS.get(values.get("reason", ""), values.get("reason", ""))
    subject, body = TEMPLATES.get(str(message.get("type")), (
        Template("MASH hub notification"), Template("An update is waiting in the MASH hub.")))
    return ("[MASH] " + subject.safe_substitute(values),
            body.safe_substitute(values) + FOOTER)
