"""What the person banner warns of: repeated missing episodes, the latest CSE screening's
level, and open pattern alerts naming the child. MASH staff only (the person page is)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, cast
from sqlmodel import col, func, select

from services.referral.intelligence.missing import REPEAT_DAYS, REPEAT_EPISODES, recent_counts
from services.referral.intelligence.models import Alert, Screening
from shared.db import UnitOfWork
from shared.schemas import Schema


class SafeguardingFlag(Schema):
    """One warning: a code for software, words for the banner."""

    code: str
    text: str


async def person_flags(uow: UnitOfWork, person_id: str,
                       referral_ids: Sequence[str]) -> list[SafeguardingFlag]:
    flags = []
    missing = (await recent_counts(uow, [person_id])).get(person_id, 0)
    if missing >= REPEAT_EPISODES:
        flags.append(SafeguardingFlag(
            code="repeatedly_missing", text=f"Missing {missing} times in {REPEAT_DAYS} days"))
    if referral_ids:
        latest = (await uow.session.exec(
            select(Screening).where(col(Screening.referral_id).in_(list(referral_ids)),
                                    col(Screening.tool) == "cse")
            .order_by(col(Screening.screened_at).desc()).limit(1))).first()
        if latest is not None and latest.level in ("medium", "high"):
            flags.append(SafeguardingFlag(code=f"cse_{latest.level}",
                                          text=f"CSE screening: {latest.level} risk"))
    # The children of an alert are person ids in a JSON list: a text match finds them.
    alerts = (await uow.session.exec(
        select(func.count()).select_from(Alert).where(
            col(Alert.status) == "open",
            cast(col(Alert.children), String).contains(f'"{person_id}"')))).one()
    if alerts:
        flags.append(SafeguardingFlag(
            code="open_alert",
            text=f"In {alerts} open pattern alert{'s' if alerts != 1 else ''}"))
    return flags
