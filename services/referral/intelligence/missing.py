"""Missing from home: episodes recorded by the police or MASH staff, the return interview
due 72 hours (clock time: children go missing at weekends) after the child's return, its
being overdue announced exactly once, three or more episodes in 90 days flagging the
child, and the places children are found at feeding place alerts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import func
from sqlmodel import col, select, update

from services.referral.audit import service as audit
from services.referral.events import ReturnInterviewOverdue
from services.referral.intelligence import alerts
from services.referral.intelligence.contexts import normalise_place
from services.referral.intelligence.models import MissingEpisode
from services.referral.matching import MatchModel, PersonRecord
from services.referral.people import linking
from services.referral.people.models import Person, SubjectDetails
from services.referral.permissions import is_mash_staff
from services.referral.settings import HubSettings
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import InvalidValue, NotFound
from shared.events import utcnow
from shared.outbox import add_to_outbox
from shared.pagination import after as keyset_after
from shared.rows import Rows
from shared.workers import PollingWorker

log = logging.getLogger(__name__)

RETURN_INTERVIEW_HOURS = 72
REPEAT_EPISODES = 3
REPEAT_DAYS = 90
SOURCE = "missing_episode"


def may_use(who: Principal) -> bool:
    """The police and MASH staff record and read missing episodes."""
    return is_mash_staff(who) or who.agency_kind == "police"


async def _refuse(uow: UnitOfWork, who: Principal, episode_id: str, purpose: str) -> NoReturn:
    await audit.record_refusal(uow, who, "missing_episode", episode_id, purpose)
    raise NotFound("No such missing episode.")


def _invalid(field: str, message: str) -> InvalidValue:
    return InvalidValue(message, errors=[{"loc": ["body", field], "msg": message}])


async def person_of(uow: UnitOfWork, subject: dict[str, Any]) -> str | None:
    """The person a described child is, when the person index links them (the same
    comparisons and thresholds as intake); None when unsure or unknown."""
    born = subject.get("date_of_birth")
    record = PersonRecord(
        given_name=subject.get("given_name"), family_name=subject.get("family_name"),
        date_of_birth=date.fromisoformat(born) if isinstance(born, str) else born,
        sex=subject.get("sex"), postcode=subject.get("postcode"), address_line1=None,
        nhs_number=subject.get("nhs_number"), upn=None)
    match = await linking.find_match(uow, record, "", MatchModel.load_default())
    return match.person_id if match.decision == "link" else None


async def _home_of(uow: UnitOfWork, person_id: str) -> str | None:
    """The child's latest known postcode."""
    return (await uow.session.exec(
        select(SubjectDetails.postcode).where(SubjectDetails.person_id == person_id)
        .order_by(col(SubjectDetails.seen_at).desc()).limit(1))).first()


def _check_times(went: datetime, returned: datetime | None) -> None:
    if went > utcnow() + timedelta(minutes=5):
        raise _invalid("went_missing_at", "is in the future")
    if returned is not None and returned < went:
        raise _invalid("returned_at", "is before went_missing_at")


async def _feed_place_alert(uow: UnitOfWork, episode: MissingEpisode,
                            settings: HubSettings) -> None:
    if episode.person_id is None or episode.found_at_place is None:
        return
    home = await _home_of(uow, episode.person_id)
    if home == episode.found_at_place:
        return  # found at home
    rows = Rows()
    await alerts.sight(uow, rows, "place", episode.found_at_place,
                       [alerts.Sighting(episode.id, episode.person_id, home, None, SOURCE)],
                       episode.returned_at or episode.went_missing_at,
                       settings.alert_window_days)
    await rows.write(uow)


async def record(uow: UnitOfWork, who: Principal, person_id: str | None,
                 subject: dict[str, Any] | None, went_missing_at: datetime,
                 returned_at: datetime | None, found_at_place: str | None,
                 settings: HubSettings) -> MissingEpisode:
    """A new episode, of a known person or a described child (matched to one if the
    index is sure); audited."""
    if not may_use(who):
        await _refuse(uow, who, "*", "missing_episode")
    _check_times(went_missing_at, returned_at)
    if person_id is not None and await uow.session.get(Person, person_id) is None:
        raise _invalid("person_id", "no such person")
    if person_id is None and subject is not None:
        person_id = await person_of(uow, subject)
    now = utcnow()
    episode = MissingEpisode(
        person_id=person_id, subject=subject, went_missing_at=went_missing_at,
        returned_at=returned_at,
        found_at_place=normalise_place(found_at_place) if found_at_place else None,
        return_interview_due_at=returned_at + timedelta(hours=RETURN_INTERVIEW_HOURS)
        if returned_at else None,
        recorded_by=who.subject, agency_id=who.agency_id, recorded_at=now)
    uow.session.add(episode)
    await uow.session.flush()
    await _feed_place_alert(uow, episode, settings)
    await audit.record(uow, who, "create", "missing_episode", episode.id, "missing_episode")
    return episode


async def update_episode(uow: UnitOfWork, who: Principal, episode_id: str,
                         changes: dict[str, Any], settings: HubSettings) -> MissingEpisode:
    """The child's return, where they were found, or the return interview held."""
    episode = await uow.session.get(MissingEpisode, episode_id) if may_use(who) else None
    if episode is None:
        await _refuse(uow, who, episode_id, "missing_episode")
    feed = False
    if "returned_at" in changes and changes["returned_at"] is not None:
        _check_times(episode.went_missing_at, changes["returned_at"])
        episode.returned_at = changes["returned_at"]
        episode.return_interview_due_at = episode.returned_at + timedelta(
            hours=RETURN_INTERVIEW_HOURS)
    if changes.get("found_at_place"):
        episode.found_at_place = normalise_place(changes["found_at_place"])
        feed = True
    if changes.get("return_interview_at") is not None:
        if episode.returned_at is None or changes["return_interview_at"] < episode.returned_at:
            raise _invalid("return_interview_at", "is before the child's return")
        episode.return_interview_at = changes["return_interview_at"]
    uow.session.add(episode)
    await uow.session.flush()
    if feed:
        await _feed_place_alert(uow, episode, settings)
    await audit.record(uow, who, "update", "missing_episode", episode.id, "missing_episode")
    return episode


async def read(uow: UnitOfWork, who: Principal, episode_id: str,
               purpose: str) -> MissingEpisode:
    """One episode, audited."""
    episode = await uow.session.get(MissingEpisode, episode_id) if may_use(who) else None
    if episode is None:
        await _refuse(uow, who, episode_id, purpose)
    await audit.record(uow, who, "read", "missing_episode", episode_id, purpose)
    return episode


async def list_episodes(uow: UnitOfWork, who: Principal, person_id: str | None,
                        after: tuple[datetime, str] | None, limit: int,
                        purpose: str) -> list[MissingEpisode]:
    """Episodes, the latest first; of one person with ``person_id``; audited."""
    if not may_use(who):
        await _refuse(uow, who, "*", purpose)
    query = select(MissingEpisode)
    if person_id:
        query = query.where(MissingEpisode.person_id == person_id)
    if after is not None:
        query = query.where(keyset_after(
            [col(MissingEpisode.went_missing_at), col(MissingEpisode.id)], after,
            descending=True))
    found = list((await uow.session.exec(query.order_by(
        col(MissingEpisode.went_missing_at).desc(), col(MissingEpisode.id).desc())
        .limit(limit))).all())
    await audit.record(uow, who, "search", "missing_episode", "*", purpose,
                       detail={"person_id": person_id})
    return found


async def recent_counts(uow: UnitOfWork, person_ids: Iterable[str]) -> dict[str, int]:
    """Each person's episodes that began in the last 90 days (the hub's clock)."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    since = utcnow() - timedelta(days=REPEAT_DAYS)
    rows = (await uow.session.exec(
        select(MissingEpisode.person_id, func.count())
        .where(col(MissingEpisode.person_id).in_(ids),
               col(MissingEpisode.went_missing_at) >= since)
        .group_by(col(MissingEpisode.person_id)))).all()
    return {person: count for person, count in rows if person}


class ReturnInterviewScheduler(PollingWorker):
    """Announces each return interview not held within 72 hours of the return, once: the
    episode is claimed by a conditional update of ``return_interview_overdue_at`` in the
    transaction of the event's outbox row, so several replicas announce it once
    (the pattern of workflow.deadlines)."""

    def __init__(self, database: Database, *, poll_seconds: float = 30.0,
                 batch_size: int = 100, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__("return-interview-scheduler", poll_seconds=poll_seconds)
        self.database = database
        self.batch_size = batch_size
        self.clock = clock

    async def run_once(self) -> int:
        """Announce every return interview overdue by now; how many were announced."""
        now = self.clock()
        announced = 0
        async with self.database.unit_of_work() as uow:
            query = (select(MissingEpisode)
                     .where(col(MissingEpisode.return_interview_due_at) < now,
                            col(MissingEpisode.return_interview_at).is_(None),
                            col(MissingEpisode.return_interview_overdue_at).is_(None))
                     .order_by(col(MissingEpisode.return_interview_due_at))
                     .limit(self.batch_size))
            if not self.database.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            for episode in (await uow.session.exec(query)).all():
                claimed = await uow.session.exec(
                    update(MissingEpisode)
                    .where(col(MissingEpisode.id) == episode.id,
                           col(MissingEpisode.return_interview_at).is_(None),
                           col(MissingEpisode.return_interview_overdue_at).is_(None))
                    .values(return_interview_overdue_at=now))
                if claimed.rowcount != 1:
                    continue  # another replica got there first
                due = episode.return_interview_due_at
                add_to_outbox(uow, ReturnInterviewOverdue(
                    missing_episode_id=episode.id, person_id=episode.person_id,
                    due_at=due.isoformat() if due else "").cloud_event())
                announced += 1
            await uow.commit()
        return announced

    async def step(self) -> None:
        """Announce what is overdue now."""
        count = await self.run_once()
        if count:
            log.info("return interviews overdue announced", extra={"count": count})
