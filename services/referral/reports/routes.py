"""GET /api/v1/reports/timeliness."""

from __future__ import annotations

from fastapi import APIRouter

from services.referral.audit import service as audit
from services.referral.permissions import MashWorker
from services.referral.reports.schemas import TimelinessReport
from services.referral.reports.service import timeliness
from services.referral.runtime import RuntimeDep
from shared.events import utcnow
from shared.service import LongReadDep, UnitOfWorkDep

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get("/timeliness", response_model=TimelinessReport)
async def read_timeliness(caller: MashWorker, uow: UnitOfWorkDep, reading: LongReadDep,
                          runtime: RuntimeDep) -> TimelinessReport:
    """Referrals received today and this week, decisions within one working day as a
    percentage, and overdue decisions and partner answers by agency (MASH staff)."""
    report = await timeliness(reading, utcnow(), runtime.calendar.zone)
    await audit.record(uow, caller, "report", "referral", "*", "timeliness")
    return report
