"""Events the notify service consumes, and who hears each of them."""

from __future__ import annotations

from typing import Any, Literal

from shared.events import CloudEvent

QUEUE = "notify.partner-events"

REFERRAL_RECEIVED = "mash.referral.received"
REFERRAL_DECIDED = "mash.referral.decided"
DECISION_OVERDUE = "mash.referral.decision_overdue"
INFORMATION_REQUEST_CREATED = "mash.information_request.created"
INFORMATION_REQUEST_OVERDUE = "mash.information_request.overdue"
# Notify's own notice to an agency whose endpoint it has disabled (email only).
SUBSCRIPTION_DISABLED = "mash.notify.subscription_disabled"
# What a school hears of a police referral about one of its pupils (Operation Encompass):
# at its webhooks subscribed to this type, else by email to its safeguarding lead.
ENCOMPASS_NOTIFICATION = "mash.encompass.notification"

EventType = Literal[
    "mash.referral.received", "mash.referral.decided", "mash.referral.decision_overdue",
    "mash.information_request.created", "mash.information_request.overdue",
    "mash.encompass.notification",
]

# The referring agency hears its acknowledgement and the outcome.
TO_REFERRER = frozenset({REFERRAL_RECEIVED, REFERRAL_DECIDED})
# The agency an information request is addressed to hears of it, and when it is late.
TO_ADDRESSED_AGENCY = frozenset({INFORMATION_REQUEST_CREATED, INFORMATION_REQUEST_OVERDUE})
# MASH managers (subscriptions only managers and admins may create) hear late decisions.
TO_MASH_MANAGERS = frozenset({DECISION_OVERDUE})
PARTNER_EVENTS = TO_REFERRER | TO_ADDRESSED_AGENCY
CONSUMED = tuple(sorted(PARTNER_EVENTS | TO_MASH_MANAGERS))

# What a partner may be told: identifiers, status, outcome, times and links; never
# names or narrative, whatever a publisher puts in an event.
SHAREABLE_FIELDS = ("referral_id", "reference", "information_request_id", "status", "kind",
                    "outcome", "received_at", "decided_at", "due_at", "links")


def recipient_agency(event: CloudEvent) -> str | None:
    """The agency that should hear ``event``; None when it is for MASH managers."""
    if event.type in TO_REFERRER:
        return _text(event.data.get("referring_agency_id"))
    if event.type in TO_ADDRESSED_AGENCY:
        data = event.data
        return _text(data.get("addressed_agency_id") or data.get("agency_id"))
    return None


def shareable_data(data: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The fields of an event's data a partner may see, with links made absolute."""
    shared = {key: data[key] for key in SHAREABLE_FIELDS if key in data}
    links = shared.get("links")
    if isinstance(links, dict):
        origin = base_url.rstrip("/")
        shared["links"] = {name: origin + href if isinstance(href, str) and href.startswith("/")
                           else href for name, href in links.items()}
    return shared


def _text(value: Any) -> str | None:
    return str(value) if value else None
