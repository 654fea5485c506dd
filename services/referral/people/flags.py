"""Same-day and re-referral flags (CIN census) by the person, not by exact identifiers.

A second referral of the same child on the same day is linked to the first (the census
counts it once); one within 12 months of an earlier referral is a re-referral.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import col, select

from services.referral.models import Referral
from services.referral.people import index
from services.referral.people.models import SubjectDetails
from services.referral.working_time import WorkingCalendar
from shared.db import UnitOfWork

RE_REFERRAL_WINDOW = timedelta(days=365)


async def derive(uow: UnitOfWork, referral: Referral, child_person_ids: Iterable[str],
                 calendar: WorkingCalendar) -> None:
    """Set the referral's flags from the earlier referrals of its children's people."""
    people = sorted(set(child_person_ids))
    referral.same_day_as, referral.is_re_referral = None, False
    if not people:
        return
    same_child = (select(SubjectDetails.referral_id)
                  .where(col(SubjectDetails.person_id).in_(people),
                         SubjectDetails.role == "child",
                         SubjectDetails.referral_id != referral.id))
    earlier = (col(Referral.id).in_(same_child),
               col(Referral.received_at) < referral.received_at)
    start_of_day = start_of(referral.received_at, calendar)
    # Two indexed look-ups of one row each, however many referrals the child has had.
    first_today = (await uow.session.exec(
        select(Referral.id, Referral.same_day_as, Referral.is_re_referral)
        .where(*earlier, col(Referral.received_at) >= start_of_day)
        .order_by(col(Referral.received_at)).limit(1))).first()
    if first_today is not None:
        first_id, its_first, its_flag = first_today
        referral.same_day_as = its_first or first_id
        referral.is_re_referral = its_flag
        return
    within = (await uow.session.exec(
        select(Referral.id).where(*earlier, col(Referral.received_at) >=
                                  referral.received_at - RE_REFERRAL_WINDOW).limit(1))).first()
    referral.is_re_referral = within is not None


async def rederive(uow: UnitOfWork, referral_id: str, person_ids: Iterable[str],
                   calendar: WorkingCalendar) -> None:
    """After a link changed: the flags of the subject's referral and of the later
    referrals of the people concerned, oldest first (each builds on the ones before)."""
    referral = await uow.session.get(Referral, referral_id)
    if referral is None:
        return
    later = await index.referrals_of(uow, person_ids, referral.received_at)
    for each in [referral, *later]:
        await derive(uow, each, await _child_people(uow, each.id), calendar)
        uow.session.add(each)
        await uow.session.flush()


async def _child_people(uow: UnitOfWork, referral_id: str) -> list[str]:
    rows = await uow.session.exec(select(SubjectDetails.person_id).where(
        SubjectDetails.referral_id == referral_id, SubjectDetails.role == "child",
        col(SubjectDetails.person_id).is_not(None)))
    return [p for p in rows.all() if p]


def start_of(at: datetime, calendar: WorkingCalendar) -> datetime:
    """Midnight of ``at``'s day in the hub's zone."""
    return at.astimezone(calendar.zone).replace(hour=0, minute=0, second=0, microsecond=0)
