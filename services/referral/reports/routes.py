"""GET /api/v1/reports/timeliness and /api/v1/reports/board."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.referral.audit import service as audit
from services.referral.permissions import BoardReader, CensusReader, MashWorker
from services.referral.reports.board import Board, board_csv, default_range
from services.referral.reports.census import (
    census_csv_streamed,
    census_json_streamed,
    census_problems_sliced,
    census_records,
    census_xml,
)
from services.referral.reports.schemas import (
    BoardReport,
    CensusExtract,
    TimelinessReport,
)
from services.referral.reports.service import timeliness
from services.referral.runtime import RuntimeDep
from shared.errors import InvalidValue
from shared.events import utcnow
from shared.service import LongReadDep, UnitOfWorkDep

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

CSV = "text/csv"
MAX_YEARS = 10


@router.get("/timeliness", response_model=TimelinessReport)
async def read_timeliness(caller: MashWorker, uow: UnitOfWorkDep, reading: LongReadDep,
                          runtime: RuntimeDep) -> TimelinessReport:
    """Referrals received today and this week, decisions within one working day as a
    percentage, and overdue decisions and partner answers by agency (MASH staff)."""
    report = await timeliness(reading, utcnow(), runtime.calendar.zone)
    await audit.record(uow, caller, "report", "referral", "*", "timeliness")
    return report


XML = "application/xml"


@router.get("/cin-census", response_model=CensusExtract,
            responses={200: {"content": {CSV: {"schema": {"type": "string"}},
                                         XML: {"schema": {"type": "string"}}},
                             "description": "The extract (JSON, or CSV or XML when asked for)"}})
async def read_cin_census(
    request: Request, caller: CensusReader, uow: UnitOfWorkDep, reading: LongReadDep,
    runtime: RuntimeDep,
    year: Annotated[int, Query(ge=2000, le=2100, description="the census named by the year "
                               "its collection period ends: 2026 is 1 April 2025 to 31 "
                               "March 2026")],
) -> CensusExtract | Response:
    """The referral part of the DfE Children in Need census (MASH managers, auditors):
    one record per child referred in the collection year, same-day referrals once.
    `Accept: application/xml` or `text/csv` for the return's formats. Audited."""
    # A year is tens of thousands of records: they are made, checked and written out a
    # slice at a time (shared.slices), so the hub goes on answering meanwhile.
    records = await census_records(reading, year, runtime.calendar.zone)
    await audit.record(uow, caller, "export", "referral", "*", "cin_census")
    accept = request.headers.get("accept", "")
    if XML in accept:
        # One document tree, built and written off the loop.
        xml = await to_thread.run_sync(census_xml, records, year,
                                       runtime.calendar.settings.la_code, utcnow())
        return Response(xml, media_type=XML)
    if CSV in accept:
        return StreamingResponse(census_csv_streamed(records), media_type=f"{CSV}; charset=utf-8",
                                 headers={"Content-Disposition":
                                          f'attachment; filename="cin-census-{year}.csv"'})
    problems = await census_problems_sliced(records, year)
    return StreamingResponse(census_json_streamed(records, year, problems),
                             media_type="application/json")


@router.get("/board", response_model=BoardReport,
            responses={200: {"content": {CSV: {"schema": {"type": "string"}}},
                             "description": "The report (JSON, or CSV when asked for)"}})
async def read_board(
    request: Request, caller: BoardReader, uow: UnitOfWorkDep, reading: LongReadDep,
    runtime: RuntimeDep,
    from_: Annotated[date | None, Query(alias="from", description="first day (default: "
                                        "the first of the month eleven months ago)")] = None,
    to: Annotated[date | None, Query(description="last day, included (default: today)")] = None,
    interval: Annotated[Literal["week", "month"], Query()] = "month",
) -> BoardReport | Response:
    """The board's figures by week or month (board members, MASH managers, auditors):
    referrals by source and agency, decisions within one working day, outcomes,
    re-referrals, each partner's answers, and every school by name and URN. Aggregates
    only. `Accept: text/csv` gives the same figures as CSV."""
    now = utcnow()
    zone = runtime.calendar.zone
    first, last = default_range(now.astimezone(zone).date())
    first, last = from_ or first, to or last
    if first > last:
        raise InvalidValue("`from` is after `to`.",
                           errors=[{"loc": ["query", "from"], "msg": "after `to`"}])
    if (last - first).days > 366 * MAX_YEARS:
        raise InvalidValue(f"A board report covers at most {MAX_YEARS} years.",
                           errors=[{"loc": ["query", "from"], "msg": "range too long"}])
    report = await Board(first, last, interval, zone).build(reading, now)
    await audit.record(uow, caller, "report", "referral", "*", "board")
    if CSV in request.headers.get("accept", ""):
        name = f"mash-board-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(board_csv(report), media_type=f"{CSV}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return report
