"""Same-day and re-referral flags (CIN census) by the person, not by exact identifiers.

A second referral of the same child on the same day is linked to the first (the census
counts it once); one within 12 months of an earlier referral is a re-referral.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, true
from sqlmodel import col
from sqlmodel import select as orm_select

from services.referral.people import index
from services.referral.people.models import SubjectDetails
from services.referral.referrals.models import Referral
from services.referral.workflow.working_time import WorkingCalendar
from shared.db import UnitOfWork
from shared.rows import in_slots, slot_params

RE_REFERRAL_WINDOW = timedelta(days=365)


_REFERRALS = Referral.__table__  # type: ignore[attr-defined]
_DETAILS = SubjectDetails.__table__  # type: ignore[attr-defined]


PEOPLE_SLOTS = 4  # children of one referral: usually 1-3


@cache
def _earlier(slots: int | None) -> tuple[Any, Any]:
    """The first earlier referral of the people since a time, with its flags; any earlier
    referral of theirs since a time. Core statements, built once."""
    same_child = select(_DETAILS.c.referral_id).where(
        in_slots(_DETAILS.c.person_id, "people", slots),
        _DETAILS.c.role == "child", _DETAILS.c.referral_id != bindparam("referral"))
    earlier = (_REFERRALS.c.id.in_(same_child),
               _REFERRALS.c.received_at < bindparam("received_at"),
               _REFERRALS.c.received_at >= bindparam("since"))
    first = (select(_REFERRALS.c.id, _REFERRALS.c.same_day_as, _REFERRALS.c.is_re_referral,
                    _REFERRALS.c.received_at)
             .where(*earlier).order_by(_REFERRALS.c.received_at).limit(1))
    return first, select(_REFERRALS.c.id).where(*earlier).limit(1)


Earlier = tuple[datetime, str, str | None, bool]  # received at, id, same day as, re-referral


def decide(earlier: Iterable[Earlier], received_at: datetime, start_of_day: datetime
           ) -> tuple[str | None, bool]:
    """(same day as, is a re-referral) from earlier referrals of the same children: the
    first one of the same day gives its own (it is counted, this one is not); otherwise
    any one within RE_REFERRAL_WINDOW makes this a re-referral."""
    before = [e for e in earlier if e[0] < received_at]
    today = [e for e in before if e[0] >= start_of_day]
    if today:
        _, first_id, its_first, its_flag = min(today, key=lambda e: e[0])
        return its_first or first_id, its_flag
    since = received_at - RE_REFERRAL_WINDOW
    return None, any(e[0] >= since for e in before)


async def flags_for(uow: UnitOfWork, referral_id: str, received_at: datetime,
                    child_person_ids: Iterable[str], calendar: WorkingCalendar
                    ) -> tuple[str | None, bool]:
    """(same day as, is a re-referral) of a stored referral, from the earlier referrals
    of its children's people."""
    people = sorted(set(child_person_ids))
    if not people:
        return None, False
    slots, params = slot_params("people", people, PEOPLE_SLOTS)
    first_today, any_within = _earlier(slots)
    start_of_day = start_of(received_at, calendar)
    params.update(referral=referral_id, received_at=received_at, since=start_of_day)
    earlier: list[Earlier] = []
    connection = await uow.session.connection()
    # Two indexed look-ups of one row each, however many referrals the child has had.
    first = (await connection.execute(first_today, params)).first()
    if first is not None:
        first_id, its_first, its_flag, its_time = first
        earlier.append((its_time, first_id, its_first, bool(its_flag)))
    same_day_as, is_re_referral = decide(earlier, received_at, start_of_day)
    if same_day_as is not None or is_re_referral:
        return same_day_as, is_re_referral
    params["since"] = received_at - RE_REFERRAL_WINDOW
    return None, (await connection.execute(any_within, params)).first() is not None


@cache
def _of_people(lateral: bool) -> Any:
    """The stored referrals (as a child) of some people received in a span of time, with
    their flags: a batch's earlier referrals, read once for the whole batch.

    ``lateral`` (PostgreSQL): each referral is read by its primary key in a LATERAL
    subquery. Without it, while the growing tables of an import had not been analysed,
    PostgreSQL took them for a few rows and compared every person's record with every
    referral of the span: 1.5 s a batch at 80,000 referrals."""
    children = (_DETAILS.c.person_id.in_(bindparam("people", expanding=True)),
                _DETAILS.c.role == "child")
    span = (_REFERRALS.c.received_at >= bindparam("since"),
            _REFERRALS.c.received_at < bindparam("until"))
    columns = (_REFERRALS.c.received_at, _REFERRALS.c.id, _REFERRALS.c.same_day_as,
               _REFERRALS.c.is_re_referral)
    if not lateral:
        return (select(_DETAILS.c.person_id, *columns)
                .join(_REFERRALS, _REFERRALS.c.id == _DETAILS.c.referral_id)
                .where(*children, *span))
    referral = (select(*columns).where(_REFERRALS.c.id == _DETAILS.c.referral_id, *span)
                .limit(1).lateral("referral"))
    return (select(_DETAILS.c.person_id, *(referral.c[c.name] for c in columns))
            .select_from(_DETAILS.join(referral, true())).where(*children))


async def settle(uow: UnitOfWork, batch: index.BatchIndex) -> None:
    """Set the flags of the batch's referrals, in order, in their rows: from the stored
    referrals of their children's people (one statement for the whole batch) and from the
    batch's earlier ones. Same result as ``flags_for`` for each in turn."""
    pending = [r for r in batch.referrals if r.known_children]
    people = sorted(set().union(*(r.known_children for r in pending)))
    stored: dict[str, list[Earlier]] = {}
    if people:
        connection = await uow.session.connection()
        found = await connection.execute(_of_people(not uow.database.is_sqlite), {
            "people": people,
            "since": min(r.received_at for r in pending) - RE_REFERRAL_WINDOW,
            "until": max(r.received_at for r in pending)})
        for person_id, at, referral_id, same_day_as, is_re_referral in found.all():
            stored.setdefault(person_id, []).append(
                (at, referral_id, same_day_as, bool(is_re_referral)))
    for position, referral in enumerate(batch.referrals):
        if referral.known_children:
            earlier = [e for person in referral.known_children for e in stored.get(person, ())]
            earlier += [(r.received_at, r.referral_id, r.same_day_as, r.is_re_referral)
                        for r in batch.referrals[:position]
                        if r.child_people & referral.known_children]
            referral.same_day_as, referral.is_re_referral = decide(
                earlier, referral.received_at, referral.start_of_day)
        referral.row["same_day_as"] = referral.same_day_as
        referral.row["is_re_referral"] = referral.is_re_referral


async def derive(uow: UnitOfWork, referral: Referral, child_person_ids: Iterable[str],
                 calendar: WorkingCalendar) -> None:
    """Set the referral's flags from the earlier referrals of its children's people."""
    referral.same_day_as, referral.is_re_referral = await flags_for(
        uow, referral.id, referral.received_at, child_person_ids, calendar)


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
    rows = await uow.session.exec(orm_select(SubjectDetails.person_id).where(
        SubjectDetails.referral_id == referral_id, SubjectDetails.role == "child",
        col(SubjectDetails.person_id).is_not(None)))
    return [p for p in rows.all() if p]


def start_of(at: datetime, calendar: WorkingCalendar) -> datetime:
    """Midnight of ``at``'s day in the hub's zone."""
    return at.astimezone(calendar.zone).replace(hour=0, minute=0, second=0, microsecond=0)
