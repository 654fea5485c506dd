"""Events the referral service publishes."""

from __future__ import annotations

from shared.events import CloudEvent

SOURCE = "/services/referral"
REFERRAL_RECEIVED = "mash.referral.received"


def referral_received(referral_id: str, reference: str, status: str, kind: str,
                      received_at: str, link: str, referring_agency_id: str) -> CloudEvent:
    """`mash.referral.received`: identifiers and status only, never the narrative."""
    return CloudEvent(
        source=SOURCE,
        type=REFERRAL_RECEIVED,
        subject=referral_id,
        data={
            "referral_id": referral_id,
            "reference": reference,
            "status": status,
            "kind": kind,
            "received_at": received_at,
            "referring_agency_id": referring_agency_id,
            "links": {"self": link},
        },
    )
