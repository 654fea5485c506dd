"""Reading and deciding pattern alerts, for MASH staff only; every read is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlmodel import col, select, update

from services.referral.audit import service as audit
from services.referral.intelligence.models import Alert
from services.referral.people.models import PersonLink, SubjectDetails
from services.referral.permissions import is_mash_staff
from services.referral.referrals.models import Referral
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound, StaleVersion
from shared.events import utcnow
from shared.pagination import after as keyset_after

SUBJECT_KEY = "subject:"


@dataclass(frozen=True)
class AlertFile:
    """An alert with its evidence: the referrals, what is known of each child, and the
    link decisions that made the adult's subjects one person."""

    alert: Alert
    referrals: list[Referral]
    children: dict[str, SubjectDetails]
    child_referrals: dict[str, list[str]]
    links: list[PersonLink]


def etag(alert: Alert) -> str:
    """The alert's version as an ETag."""
    return f'"{alert.version}"'


async def _refuse(uow: UnitOfWork, reader: Principal, alert_id: str, purpose: str) -> NoReturn:
    await audit.record_refusal(uow, reader, "alert", alert_id, purpose)
    raise NotFound("No such alert.")


async def list_alerts(uow: UnitOfWork, reader: Principal, status: str | None,
                      after: tuple[datetime, str] | None, limit: int,
                      purpose: str) -> list[Alert]:
    """Alerts latest evidence first; partners are told there is nothing (404)."""
    if not is_mash_staff(reader):
        await _refuse(uow, reader, "*", purpose)
    query = select(Alert)
    if status:
        query = query.where(Alert.status == status)
    if after is not None:
        query = query.where(keyset_after([col(Alert.updated_at), col(Alert.id)], after,
                                         descending=True))
    found = list((await uow.session.exec(
        query.order_by(col(Alert.updated_at).desc(), col(Alert.id).desc()).limit(limit))).all())
    await audit.record(uow, reader, "search", "alert", "*", purpose, detail={"status": status})
    return found


async def alert_file(uow: UnitOfWork, alert: Alert) -> AlertFile:
    """The alert's evidence, read in four statements."""
    referrals = list((await uow.session.exec(
        select(Referral).where(col(Referral.id).in_(alert.referral_ids))
        .order_by(col(Referral.received_at), col(Referral.id)))).all())
    people = [c for c in alert.children if not c.startswith(SUBJECT_KEY)]
    subjects = [c.removeprefix(SUBJECT_KEY) for c in alert.children if c.startswith(SUBJECT_KEY)]
    children: dict[str, SubjectDetails] = {}
    child_referrals: dict[str, list[str]] = {}
    rows = (await uow.session.exec(
        select(SubjectDetails).where(col(SubjectDetails.person_id).in_(people),
                                     SubjectDetails.role == "child",
                                     col(SubjectDetails.referral_id).in_(alert.referral_ids))
        .order_by(col(SubjectDetails.seen_at)))).all()
    rows = [*rows, *(await uow.session.exec(
        select(SubjectDetails).where(col(SubjectDetails.subject_id).in_(subjects)))).all()]
    for row in rows:  # the latest details of each child, and their referrals
        key = SUBJECT_KEY + row.subject_id if row.subject_id in subjects else row.person_id or ""
        children[key] = row
        child_referrals.setdefault(key, []).append(row.referral_id)
    unseen = [p for p in people if p not in children]  # seen in missing episodes only
    if unseen:
        for row in (await uow.session.exec(
                select(SubjectDetails).where(col(SubjectDetails.person_id).in_(unseen))
                .order_by(col(SubjectDetails.seen_at)))).all():
            children[row.person_id or ""] = row
    links = list((await uow.session.exec(
        select(PersonLink).where(col(PersonLink.subject_id).in_(alert.subject_ids),
                                 col(PersonLink.undone_at).is_(None))
        .order_by(col(PersonLink.decided_at)))).all()) if alert.subject_ids else []
    return AlertFile(alert, referrals, children, child_referrals, links)


async def read_alert(uow: UnitOfWork, alert_id: str, reader: Principal,
                     purpose: str) -> AlertFile:
    """One alert with its evidence, audited (a refusal too)."""
    alert = await uow.session.get(Alert, alert_id) if is_mash_staff(reader) else None
    if alert is None:
        await _refuse(uow, reader, alert_id, purpose)
    found = await alert_file(uow, alert)
    await audit.record(uow, reader, "read", "alert", alert_id, purpose)
    return found


async def decide(uow: UnitOfWork, alert_id: str, reader: Principal, decision: str,
                 reason: str, if_match: str | None) -> AlertFile:
    """Confirm or dismiss an alert, with a reason. A dismissed alert stays dismissed for
    the evidence it had; a later referral with the same value reopens it."""
    alert = await uow.session.get(Alert, alert_id) if is_mash_staff(reader) else None
    if alert is None:
        await _refuse(uow, reader, alert_id, "alert_decision")
    if if_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
        if "*" not in tags and etag(alert) not in tags:
            raise StaleVersion("The alert has changed since you read it: read it again.")
    claimed = await uow.session.exec(
        update(Alert).where(col(Alert.id) == alert.id, col(Alert.version) == alert.version)
        .values(version=alert.version + 1, status=decision, decided_by=reader.subject,
                decided_at=utcnow(), decision_reason=reason,
                decided_evidence={"referral_ids": alert.referral_ids,
                                  "children": alert.children})
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise StaleVersion("The alert has changed since you read it: read it again.")
    await uow.session.refresh(alert)
    await audit.record(uow, reader, "update", "alert", alert_id, "alert_decision",
                       detail={"decision": decision})
    return await alert_file(uow, alert)
