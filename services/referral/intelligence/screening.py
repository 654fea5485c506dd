"""Structured risk screenings, the tools held as data (``tools/<tool>.json``): indicators
grouped by category, each with a weight; the total against the tool's thresholds gives
low, medium or high; a critical indicator gives high whatever the total. The level a
practitioner records may differ from the computed one, with a reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from sqlmodel import col, update

from services.referral.audit import service as audit
from services.referral.intelligence.models import Screening
from services.referral.referrals.models import Referral
from services.referral.settings import HubSettings
from services.referral.workflow.models import TimelineEntry
from services.referral.workflow.working_time import WorkingCalendar
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidValue, StaleVersion
from shared.events import utcnow

LEVELS = ("low", "medium", "high")
TOOLS = ("cse",)


# The tools the hub holds (services/referral/intelligence/tools/<name>.json).
TOOLS = ("cse",)


@dataclass(frozen=True)
class Indicator:
    id: str
    category: str
    text: str
    weight: int
    critical: bool


@dataclass(frozen=True)
class Tool:
    """A screening tool: its indicators and thresholds."""

    name: str
    version: int
    indicators: dict[str, Indicator]
    medium: int
    high: int
    definition: dict[str, Any]

    def level(self, answers: dict[str, bool]) -> tuple[int, str, dict[str, int]]:
        """The total weight, the level, and each category's weight."""
        present = [self.indicators[key] for key, yes in answers.items() if yes]
        by_category: dict[str, int] = {}
        for indicator in present:
            by_category[indicator.category] = by_category.get(indicator.category, 0) \
                + indicator.weight
        score = sum(i.weight for i in present)
        if any(i.critical for i in present) or score >= self.high:
            return score, "high", by_category
        return score, "medium" if score >= self.medium else "low", by_category


@cache
def tool(name: str) -> Tool:
    """A tool's definition, read from the package's data."""
    text = resources.files(__package__).joinpath("tools", f"{name}.json").read_text()
    definition = json.loads(text)
    indicators = {i["id"]: Indicator(i["id"], c["id"], i["text"], int(i["weight"]),
                                     bool(i.get("critical", False)))
                  for c in definition["categories"] for i in c["indicators"]}
    return Tool(definition["tool"], int(definition["version"]), indicators,
                int(definition["thresholds"]["medium"]), int(definition["thresholds"]["high"]),
                definition)


def _refuse(field: str, message: str) -> InvalidValue:
    return InvalidValue(message, errors=[{"loc": ["body", field], "msg": message}])


async def screen(uow: UnitOfWork, referral: Referral, who: Principal, tool_name: str,
                 answers: dict[str, bool], level: str | None, reason: str | None,
                 settings: HubSettings, calendar: WorkingCalendar) -> Screening:
    """Record a screening of the referral: the computed level, the practitioner's level
    (another one needs a reason), the level on the referral; a high level makes the
    referral red when the hub says so (``cse_high_makes_red``)."""
    definition = tool(tool_name)
    unknown = sorted(set(answers) - set(definition.indicators))
    if unknown:
        raise _refuse("answers", f"not indicators of the {tool_name} tool: {', '.join(unknown)}")
    score, computed, by_category = definition.level(answers)
    chosen = level or computed
    if chosen != computed and not reason:
        raise _refuse("reason", f"say why the level is {chosen}, not the computed {computed}")
    now = utcnow()
    screening = Screening(referral_id=referral.id, tool=tool_name,
                          tool_version=definition.version, answers=answers, score=score,
                          category_scores=by_category, computed_level=computed, level=chosen,
                          reason=reason, screened_by=who.subject, screened_at=now)
    uow.session.add(screening)
    referral.cse_level = chosen
    detail: dict[str, Any] = {"tool": tool_name, "level": chosen, "computed_level": computed}
    if chosen == "high" and settings.cse_high_makes_red and referral.rag != "red":
        _make_red(referral, now, calendar)
        detail["rag"] = "red"
    claimed = await uow.session.exec(
        update(Referral).where(col(Referral.id) == referral.id,
                               col(Referral.version) == referral.version)
        .values(version=referral.version + 1).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise StaleVersion("The referral has changed since you read it: read it again.")
    referral.version += 1
    uow.session.add(referral)
    uow.session.add(TimelineEntry(referral_id=referral.id, at=now, what="screened",
                                  actor=who.subject, agency_id=who.agency_id, detail=detail))
    await audit.record(uow, who, "screen", "referral", referral.id, "screening",
                       detail={"tool": tool_name})
    return screening


def _make_red(referral: Referral, now: datetime, calendar: WorkingCalendar) -> None:
    referral.rag = "red"
    referral.rag_rationale = "CSE screening: high"
    referral.response_due_at = calendar.response_due(now, "red")
    referral.decision_due_at = calendar.decision_due(referral.received_at, "red")
