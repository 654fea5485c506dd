"""Events the referral service publishes: identifiers, status and links, never narrative."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.referral.links import information_request_path, match_review_path, referral_path
from shared.events import CloudEvent

SOURCE = "/services/referral"
REFERRAL_RECEIVED = "mash.referral.received"
REFERRAL_TRIAGED = "mash.referral.triaged"
REFERRAL_DECIDED = "mash.referral.decided"
DECISION_OVERDUE = "mash.referral.decision_overdue"
REQUEST_CREATED = "mash.information_request.created"
REQUEST_ANSWERED = "mash.information_request.answered"
REQUEST_OVERDUE = "mash.information_request.overdue"
MATCH_REVIEW_NEEDED = "mash.person.match_review_needed"


def _event(type_: str, subject: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(source=SOURCE, type=type_, subject=subject, data=data)


POLICE_SOURCE = "6"  # CIN census referral source: police


def referral_received(referral_id: str, reference: str, status: str, kind: str,
                      received_at: str, link: str, referring_agency_id: str, *,
                      source: str = "", school_urns: Sequence[str] = ()) -> CloudEvent:
    """`mash.referral.received`: the referrer's acknowledgement; from the police, also the
    children's schools by URN (identifiers only), for Operation Encompass."""
    data: dict[str, Any] = {
        "referral_id": referral_id, "reference": reference, "status": status, "kind": kind,
        "received_at": received_at, "referring_agency_id": referring_agency_id,
        "source": source, "sequence": 1, "links": {"self": link}}
    if source == POLICE_SOURCE and school_urns:
        data["school_urns"] = sorted(set(school_urns))
    return _event(REFERRAL_RECEIVED, referral_id, data)


def referral_changed(type_: str, referral_id: str, data: dict[str, Any]) -> CloudEvent:
    """`mash.referral.triaged`, `.decided`, `.decision_overdue`: what changed, by id.

    ``data["sequence"]``, where given, is the referral's version after the change, so a
    consumer can put one referral's events back in order (received is 1)."""
    return _event(type_, referral_id, {
        "referral_id": referral_id, **data,
        "links": {"self": referral_path(referral_id)}})


def information_request(type_: str, request_id: str, agency_id: str,
                        data: dict[str, Any]) -> CloudEvent:
    """`mash.information_request.*`: addressed to ``agency_id``; says no more than the
    request itself (the partner reads the question through the API)."""
    return _event(type_, request_id, {
        "information_request_id": request_id, "agency_id": agency_id, **data,
        "links": {"self": information_request_path(request_id)}})


def match_review_needed(review_id: str, referral_id: str) -> CloudEvent:
    """`mash.person.match_review_needed`: a possible match waits for MASH staff; ids and
    links only (the details are read through the API)."""
    return _event(MATCH_REVIEW_NEEDED, review_id, {
        "match_review_id": review_id, "referral_id": referral_id,
        "links": {"self": match_review_path(review_id),
                  "referral": referral_path(referral_id)}})
