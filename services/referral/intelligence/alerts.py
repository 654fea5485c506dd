"""Pattern alerts raised on intake: a value (an adult, a vehicle, a place, a phone, an
online handle) seen in referrals about two or more different children within the hub's
window raises one alert per value, in the referral's own transaction.

The cost on intake is one indexed lookup per value (``intelligence_index`` by kind,
value and time), plus a read and write of the alert when there is one to raise or grow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import select as orm_select

from services.referral.events import AlertRaised
from services.referral.intelligence.models import Alert, IntelligenceEntry, ReferralContext
from shared.db import UnitOfWork, dialect_insert, new_id
from shared.events import utcnow
from shared.outbox import add_to_outbox
from shared.rows import Rows

ADULT_ROLES = frozenset({"adult_of_concern"})
# Entries read per value at most: the latest ones (an alert past this many children is
# raised already; the rest of its evidence is on it).
MAX_EVIDENCE = 500

_INDEX = IntelligenceEntry.__table__  # type: ignore[attr-defined]
_ALERTS = Alert.__table__  # type: ignore[attr-defined]

_LOOKUP = (select(_INDEX.c.referral_id, _INDEX.c.child, _INDEX.c.household,
                  _INDEX.c.subject_id, _INDEX.c.source)
           .where(_INDEX.c.kind == bindparam("kind"), _INDEX.c.value == bindparam("value"),
                  _INDEX.c.seen_at >= bindparam("since"))
           .order_by(_INDEX.c.seen_at.desc()).limit(MAX_EVIDENCE))


@lru_cache(maxsize=2)
def _claim_alert(sqlite: bool) -> Any:
    """Insert the value's alert unless it exists (a concurrent intake may insert it)."""
    return (dialect_insert(_ALERTS, sqlite=sqlite).values(
        id=bindparam("id"), kind=bindparam("kind"), value=bindparam("value"), status="open",
        referral_ids=bindparam("referral_ids"), episode_ids=bindparam("episode_ids"),
        children=bindparam("children"),
        subject_ids=bindparam("subject_ids"), raised_at=bindparam("now"),
        updated_at=bindparam("now"), version=1)
        .on_conflict_do_nothing(index_elements=["kind", "value"]))


@dataclass(frozen=True)
class Sighting:
    """A value seen in one referral (or missing episode: ``source``) about one child."""

    referral_id: str
    child: str
    household: str | None
    subject_id: str | None
    source: str = "referral"


@dataclass
class BatchSightings:
    """The sightings of an intake batch not yet written, by (kind, value)."""

    seen: dict[tuple[str, str], list[tuple[datetime, Sighting]]] = field(default_factory=dict)

    def add(self, kind: str, value: str, at: datetime, sighting: Sighting) -> None:
        self.seen.setdefault((kind, value), []).append((at, sighting))

    def since(self, kind: str, value: str, since: datetime) -> list[Sighting]:
        return [s for at, s in self.seen.get((kind, value), []) if at >= since]


@dataclass(frozen=True)
class Child:
    """A child of the referral: their person (or subject while under review) and home."""

    key: str
    household: str | None


def values_of(subjects: Sequence[Mapping[str, Any]], people: Sequence[str | None],
              contexts: Sequence[tuple[str, str]], children: Sequence[Child]
              ) -> list[tuple[str, str, str | None]]:
    """(kind, value, adult's subject id) of a referral: its adults of concern by person,
    and its contexts, each once."""
    found: dict[tuple[str, str], str | None] = {}
    for subject, person_id in zip(subjects, people, strict=True):
        if subject["role"] in ADULT_ROLES and person_id:
            found.setdefault(("adult", person_id), subject["id"])
    homes = {child.household for child in children if child.household}
    for kind, value in contexts:
        if kind == "place" and value in homes:
            continue  # the children's own home: not a place they were taken to
        found.setdefault((kind, value), None)
    return [(kind, value, subject_id) for (kind, value), subject_id in found.items()]


def _households(sightings: Sequence[Sighting]) -> int:
    """Households among the sightings' children: children of one home count once."""
    return len({s.household or f"child:{s.child}" for s in sightings})


async def index_and_raise(uow: UnitOfWork, rows: Rows, referral: Mapping[str, Any],
                          subjects: Sequence[Mapping[str, Any]],
                          people: Sequence[str | None], contexts: Sequence[tuple[str, str]],
                          window_days: int, batch: BatchSightings) -> list[str]:
    """Store the referral's contexts and index its values by child; raise or grow the
    alert of every value now seen with two or more children. The ids of the alerts
    raised, grown or reopened."""
    for position, (kind, value) in enumerate(contexts):
        rows.add(ReferralContext, referral_id=referral["id"], position=position, kind=kind,
                 value=value)
    children = [Child(person_id or f"subject:{subject['id']}", subject["postcode"])
                for subject, person_id in zip(subjects, people, strict=True)
                if subject["role"] == "child"]
    if not children:
        return []
    raised = []
    for kind, value, subject_id in values_of(subjects, people, contexts, children):
        now = [Sighting(referral["id"], child.key, child.household, subject_id)
               for child in children]
        alert_id = await sight(uow, rows, kind, value, now, referral["received_at"],
                               window_days, batch)
        if alert_id is not None:
            raised.append(alert_id)
    return raised


async def sight(uow: UnitOfWork, rows: Rows, kind: str, value: str, now: Sequence[Sighting],
                seen_at: datetime, window_days: int, batch: BatchSightings | None = None
                ) -> str | None:
    """Index the value as seen now with these children (one indexed lookup of where it
    was seen before); raise or grow its alert when it has been seen with two or more
    children (for a place, of two or more homes)."""
    since = seen_at - timedelta(days=window_days)
    connection = await uow.session.connection()
    earlier = [Sighting(*row) for row in (await connection.execute(
        _LOOKUP, {"kind": kind, "value": value, "since": since})).all()]
    if batch is not None:
        earlier += batch.since(kind, value, since)
    for sighting in now:
        rows.add(IntelligenceEntry, kind=kind, value=value, referral_id=sighting.referral_id,
                 child=sighting.child, household=sighting.household,
                 subject_id=sighting.subject_id, source=sighting.source, seen_at=seen_at)
        if batch is not None:
            batch.add(kind, value, seen_at, sighting)
    evidence = [*earlier, *now]
    enough = (_households(evidence) >= 2 if kind == "place"
              else len({s.child for s in evidence}) >= 2)
    if earlier and enough:
        return await raise_alert(uow, kind, value, evidence)
    return None


async def raise_alert(uow: UnitOfWork, kind: str, value: str,
                      evidence: Sequence[Sighting]) -> str | None:
    """Create the value's alert, or add the new evidence to it (reopening it if it was
    dismissed), and announce it; None when it holds this evidence already."""
    referral_ids = list(dict.fromkeys(s.referral_id for s in evidence
                                      if s.source == "referral"))
    episode_ids = list(dict.fromkeys(s.referral_id for s in evidence
                                     if s.source == "missing_episode"))
    children = list(dict.fromkeys(s.child for s in evidence))
    subject_ids = list(dict.fromkeys(s.subject_id for s in evidence if s.subject_id))
    now = utcnow()
    connection = await uow.session.connection()
    alert_id = new_id()
    created = await connection.execute(_claim_alert(uow.database.is_sqlite), {
        "id": alert_id, "kind": kind, "value": value, "referral_ids": referral_ids,
        "episode_ids": episode_ids,
        "children": children, "subject_ids": subject_ids, "now": now})
    if created.rowcount == 1:
        add_to_outbox(uow, AlertRaised(alert_id=alert_id, kind=kind).cloud_event())
        return alert_id
    query = orm_select(Alert).where(Alert.kind == kind, Alert.value == value)
    if not uow.database.is_sqlite:
        query = query.with_for_update()
    alert: Alert = (await uow.session.exec(query)).one()
    new_referrals = [r for r in referral_ids if r not in alert.referral_ids]
    new_episodes = [e for e in episode_ids if e not in alert.episode_ids]
    if not new_referrals and not new_episodes:
        return None
    alert.referral_ids = [*alert.referral_ids, *new_referrals]
    alert.episode_ids = [*alert.episode_ids, *new_episodes]
    alert.children = [*alert.children, *(c for c in children if c not in alert.children)]
    alert.subject_ids = [*alert.subject_ids,
                         *(s for s in subject_ids if s not in alert.subject_ids)]
    alert.updated_at = now
    alert.version += 1
    if alert.status == "dismissed":
        alert.status = "open"  # new evidence: a person looks again
    uow.session.add(alert)
    add_to_outbox(uow, AlertRaised(alert_id=alert.id, kind=kind).cloud_event())
    return alert.id
