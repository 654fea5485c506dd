"""Operation Encompass: a school is told of a police referral about one of its pupils.

A `mash.referral.received` from the police (CIN source 6) names the children's schools by
DfE URN. Each school in notify's agency directory hears a thin notice: at its webhooks
subscribed to `mash.encompass.notification`, or, when it has none, by email to its
designated safeguarding lead. The notice says only that there is something to read (the
reference, when it came, where to sign in): the school reads it through the API, where
access is checked and audited. It goes at once, so it is there before the next school day.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from services.notify import events
from services.notify.models import Channel, Delivery, DeliveryStatus, Subscription
from services.notify.subscriptions import event_types_of
from shared.agencies import SCHOOL_URN_PATTERN, school_for_urn
from shared.db import UnitOfWork
from shared.events import CloudEvent
from shared.rows import Rows

log = logging.getLogger(__name__)

POLICE_SOURCE = "6"  # CIN census referral source: police
_URN = re.compile(SCHOOL_URN_PATTERN)


def schools_named(event: CloudEvent) -> list[str]:
    """The school URNs of a police referral's children; none for any other event."""
    data = event.data
    if event.type != events.REFERRAL_RECEIVED or str(data.get("source")) != POLICE_SOURCE:
        return []
    urns = data.get("school_urns")
    if not isinstance(urns, list):
        return []
    return sorted({str(urn) for urn in urns if _URN.match(str(urn))})


def notice_payload(event: CloudEvent, base_url: str) -> str:
    """The school's notice: identifiers, a time and links only; never names or narrative."""
    data = event.data
    referral_id = str(data.get("referral_id", ""))
    origin = base_url.rstrip("/")
    notice: dict[str, Any] = {
        "referral_id": referral_id, "reference": data.get("reference"),
        "received_at": data.get("received_at"),
        "links": {"self": f"{origin}/api/v1/referrals/{referral_id}/encompass",
                  "sign_in": f"{origin}/"}}
    return json.dumps({"type": events.ENCOMPASS_NOTIFICATION,
                       "timestamp": event.time.isoformat(), "data": notice})


async def school_deliveries(uow: UnitOfWork, rows: Rows, event: CloudEvent, *, base_url: str,
                            common: dict[str, Any], now: datetime) -> None:
    """Stage one notice per school named (per webhook, or one email to its DSL) in
    ``rows``."""
    urns = schools_named(event)
    if not urns:
        return
    payload = notice_payload(event, base_url)
    notice = {**common, "event_type": events.ENCOMPASS_NOTIFICATION}
    for urn in urns:
        school = await school_for_urn(uow, urn)
        if school is None or school.kind != "school":
            log.warning("police referral names a school not in the directory",
                        extra={"school_urn": urn, "event_id": event.id})
            rows.add(Delivery, **notice, status=DeliveryStatus.NO_SUBSCRIPTION)
            continue
        webhooks = await _school_webhooks(uow, school.agency_id)
        for subscription in webhooks:
            rows.add(Delivery, **notice, subscription_id=subscription.id,
                     agency_id=school.agency_id, channel=Channel.WEBHOOK, payload=payload,
                     next_attempt_at=now)
        if webhooks:
            continue
        if school.safeguarding_lead_email:
            rows.add(Delivery, **notice, agency_id=school.agency_id, channel=Channel.EMAIL,
                     address=school.safeguarding_lead_email, payload=payload,
                     next_attempt_at=now)
        else:
            rows.add(Delivery, **notice, agency_id=school.agency_id,
                     status=DeliveryStatus.NO_SUBSCRIPTION)


async def _school_webhooks(uow: UnitOfWork, agency_id: str) -> list[Subscription]:
    found = (await uow.session.exec(
        select(Subscription).where(col(Subscription.agency_id) == agency_id,
                                   col(Subscription.channel) == Channel.WEBHOOK,
                                   col(Subscription.active).is_(True)))).all()
    return [s for s in found if events.ENCOMPASS_NOTIFICATION in event_types_of(s)]
