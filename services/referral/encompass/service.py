"""Operation Encompass: a school reads the police notifications about its own pupils.

The police tell the MASH; the school's designated safeguarding lead is told (by notify)
that there is something to read, and reads it here, where access is checked and audited.
A school sees only the children it is named for (by DfE URN), and only what it needs:
who the child is, the police's references, when and why. Not the narrative, not the
adults, not the other children."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.encompass.rules import DOMESTIC_ABUSE, triggers_notice
from services.referral.referrals.models import Referral, ReferralSubject
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
