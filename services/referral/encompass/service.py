"""Operation Encompass: a school reads the police notifications about its own pupils.

The police tell the MASH; the school's designated safeguarding lead is told (by notify)
that there is something to read, and reads it here, where access is checked and audited.
A school sees only the children it is named for (by DfE URN), and only what it needs:
who the child is, the police's references, when and why. Not the narrative, not the
adults, not the other children."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.encompass.models import EncompassAcknowledgement
from services.referral.encompass.rules import DOMESTIC_ABUSE, triggers_notice
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.staff import staff_entry
from shared.agencies import AgencyDirectoryEntry, agency_entry
from shared.auth import Principal, RolePermission
from shared.db import UnitOfWork
from shared.roles import PARTNERS

PURPOSE = "operation_encompass"


# Which notifications a school may read is decided per referral (see may_read).
EncompassReadPermission = RolePermission(
    "read police notifications about the school's pupils", *PARTNERS)




@dataclass(frozen=True)
class EncompassNotice:
    """A police notification as one school may see it: the referral and its pupils."""

    referral: Referral
    pupils: list[ReferralSubject]


def may_read(school: AgencyDirectoryEntry | None, referral: Referral | None,
             pupils: list[ReferralSubject],
             trigger_concerns: Collection[str] = DOMESTIC_ABUSE) -> bool:
    """The rule: an active school reads a police referral that triggers a notice (a
    domestic abuse concern, or another of the hub's ``encompass_concerns``) naming at
    least one of its pupils (a child subject with the school's URN); nobody else reads
    this view."""
    return (school is not None and school.active and school.kind == "school"
            and school.school_urn is not None and referral is not None
            and triggers_notice(referral.source, referral.concerns, trigger_concerns)
            and bool(pupils)
            and all(p.role == "child" and p.school_urn == school.school_urn for p in pupils))


async def read_notice(uow: UnitOfWork, referral_id: str, reader: Principal,
                      purpose: str, trigger_concerns: Collection[str] = DOMESTIC_ABUSE
                      ) -> EncompassNotice | None:
    """The reader's school's view of a police notification, audited; None if the reader
    may not know it exists."""
    school = await agency_entry(uow, reader.agency_id)
    referral = await uow.session.get(Referral, referral_id)
    if school is None or school.school_urn is None or referral is None:
        await audit.record_refusal(uow, reader, "referral", referral_id, purpose)
        return None
    pupils = list((await uow.session.exec(
        select(ReferralSubject).where(col(ReferralSubject.referral_id) == referral.id,
                                      col(ReferralSubject.role) == "child",
                                      col(ReferralSubject.school_urn) == school.school_urn)
        .order_by(col(ReferralSubject.position)))).all())
    if not may_read(school, referral, pupils, trigger_concerns):
        await audit.record_refusal(uow, reader, "referral", referral_id, purpose)
        return None
    await audit.record(uow, reader, "read", "referral", referral.id, purpose)
    return EncompassNotice(referral, pupils)


@dataclass(frozen=True)
class NoticeItem:
    """One notification in a school's Encompass inbox: its pupils, and whether read."""

    referral: Referral
    pupils: list[ReferralSubject]
    acknowledgement: EncompassAcknowledgement | None


INBOX_SIZE = 100


async def inbox(uow: UnitOfWork, reader: Principal,
                trigger_concerns: Collection[str] = DOMESTIC_ABUSE) -> list[NoticeItem]:
    """The newest police notifications about the reader's school's pupils (those it may
    read, by the same rule as one notice), with the school's acknowledgements; the list
    read is audited (it names pupils)."""
    school = await agency_entry(uow, reader.agency_id)
    if school is None or school.school_urn is None or not school.active:
        return []
    rows = (await uow.session.exec(
        select(Referral, ReferralSubject)
        .join(ReferralSubject, col(ReferralSubject.referral_id) == col(Referral.id))
        .where(col(ReferralSubject.role) == "child",
               col(ReferralSubject.school_urn) == school.school_urn)
        .order_by(col(Referral.received_at).desc(), col(Referral.id),
                  col(ReferralSubject.position))
        .limit(INBOX_SIZE * 4))).all()
    by_referral: dict[str, tuple[Referral, list[ReferralSubject]]] = {}
    for referral, pupil in rows:
        by_referral.setdefault(referral.id, (referral, []))[1].append(pupil)
    readable = [(r, p) for r, p in by_referral.values()
                if may_read(school, r, p, trigger_concerns)][:INBOX_SIZE]
    acknowledged = {a.referral_id: a for a in (await uow.session.exec(
        select(EncompassAcknowledgement).where(
            col(EncompassAcknowledgement.agency_id) == school.agency_id,
            col(EncompassAcknowledgement.referral_id).in_([r.id for r, _ in readable])))).all()}
    await audit.record(uow, reader, "list", "encompass_notices", school.agency_id, PURPOSE,
                       {"referrals": len(readable)})
    return [NoticeItem(r, p, acknowledged.get(r.id)) for r, p in readable]


async def acknowledge(uow: UnitOfWork, referral_id: str, reader: Principal, now: datetime,
                      trigger_concerns: Collection[str] = DOMESTIC_ABUSE
                      ) -> EncompassAcknowledgement | None:
    """Record that the reader's school has read the notice (once: the first read stands,
    a second acknowledgement answers with it); audited. None if the reader may not read
    the notice."""
    notice = await read_notice(uow, referral_id, reader, PURPOSE, trigger_concerns)
    if notice is None:
        return None
    found = await uow.session.get(EncompassAcknowledgement, (referral_id, reader.agency_id))
    if found is not None:
        return found
    staff = await staff_entry(uow, reader.subject)
    acknowledgement = EncompassAcknowledgement(
        referral_id=referral_id, agency_id=reader.agency_id, read_by=reader.subject,
        read_by_name=staff.display_name if staff else None, read_at=now)
    uow.session.add(acknowledgement)
    await audit.record(uow, reader, "acknowledge", "referral", referral_id, PURPOSE)
    return acknowledgement
