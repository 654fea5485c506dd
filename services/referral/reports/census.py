"""The referral part of the DfE Children in Need census: one record per child referred in
the collection year, in the specification's item names.

The census is named by the year its collection period ends: the 2026 census covers
referrals received from 1 April 2025 to 31 March 2026 (in the hub's time zone). A child
referred more than once on the same day counts once. A record is a referral's child:
``LAchildID`` is the hub's person id of the child (the person index's), so the same child
referred by two agencies is one child.

``ReferralNFA`` is true when the MASH decided that social care takes no further action
(no further action, advice and signposting, early help), false when an assessment
follows (then ``PrimaryNeedCode`` is required), and empty while undecided.
``ReReferral`` is derived, not an item of the return: a referral within 12 months of an
earlier one of the child.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, overload
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from pydantic_core import to_json
from sqlalchemy import select

from services.referral.codes import REFERRAL_SOURCES
from services.referral.people.models import SubjectDetails
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.reports.schemas import CensusExtract
from shared.db import UnitOfWork
from shared.slices import SLICE, each, let_go, sliced, streamed_rows


class CensusRecord(NamedTuple):
    """One child's referral in the census's item names (the API's CensusRecordView)."""

    LAchildID: str
    UPN: str | None
    PersonBirthDate: date | None
    GenderCurrent: str
    CINreferralDate: date
    ReferralSource: str
    PrimaryNeedCode: str | None
    ReferralNFA: bool | None
    ReReferral: bool


class CensusRecords(Sequence[CensusRecord]):
    """A year's records, kept as plain tuples and handed out as CensusRecord.

    A year is tens of thousands of records, alive while the extract is made and sent.
    The garbage collector stops tracking a plain tuple of strings, dates and booleans
    once it has seen it (not a subclass's, nor a model's), so they add nothing to the
    full collections that run meanwhile: with a model each, those took 40-70 ms on the
    event loop at 100,000 records, and every request waited for them."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> CensusRecord: ...

    @overload
    def __getitem__(self, index: slice) -> CensusRecords: ...

    def __getitem__(self, index: int | slice) -> CensusRecord | CensusRecords:
        if isinstance(index, slice):
            return CensusRecords(self._rows[index])
        return CensusRecord._make(self._rows[index])

    def __iter__(self) -> Iterator[CensusRecord]:
        return map(CensusRecord._make, self._rows)

    def drain(self, size: int = SLICE) -> Iterator[list[CensusRecord]]:
        """The records a slice at a time, each let go of as the next is taken: the records
        empty as a response streams them, rather than a year's being freed at once (10-20
        ms on the event loop) when it ends."""
        while self._rows:
            chunk, self._rows[:size] = self._rows[:size], []
            yield [CensusRecord._make(row) for row in chunk]


NFA_OUTCOMES = frozenset({"no_further_action", "advice_signposting", "early_help"})
PRIMARY_NEEDS = frozenset(f"N{n}" for n in range(10))
GENDER = {"M": "1", "F": "2", "U": "0"}  # GenderCurrent; 9: not stated
RE_REFERRAL_DAYS = 365

_R = Referral.__table__  # type: ignore[attr-defined]
_S = ReferralSubject.__table__  # type: ignore[attr-defined]
_P = SubjectDetails.__table__  # type: ignore[attr-defined]


def collection_period(year: int) -> tuple[date, date]:
    """The first and last day of the census named ``year``."""
    return date(year - 1, 4, 1), date(year, 3, 31)


async def census_records(uow: UnitOfWork, year: int, zone: ZoneInfo) -> CensusRecords:
    """The year's records, oldest first; same-day referrals of a child once. Read and
    made a slice at a time (shared.slices): a year is tens of thousands of rows."""
    first, last = collection_period(year)
    starts_at = datetime.combine(first, time.min, zone)
    ends_at = datetime.combine(last + timedelta(days=1), time.min, zone)
    query = (select(_S.c.id, _P.c.person_id, _S.c.upn, _S.c.date_of_birth, _S.c.sex,
                    _R.c.received_at, _R.c.source, _R.c.primary_need, _R.c.outcome,
                    _R.c.is_re_referral)
             .select_from(_S.join(_R, _R.c.id == _S.c.referral_id)
                          .outerjoin(_P, _P.c.subject_id == _S.c.id))
             .where(_R.c.received_at >= starts_at, _R.c.received_at < ends_at,
                    _R.c.kind == "referral", _R.c.status != "withdrawn",
                    _S.c.role == "child")
             .order_by(_R.c.received_at, _S.c.position))
    # The children of the day so far: the rows come by time, so a day's are together (and
    # a year's worth of pairs is never held, nor freed at once on the loop at the end).
    seen: set[str] = set()
    records = []
    today = None
    async for row in streamed_rows(uow, query):
        child = row.person_id or row.id
        day = row.received_at.astimezone(zone).date()
        if day != today:
            seen, today = set(), day
        if child in seen:
            continue
        seen.add(child)
        records.append((  # CensusRecord's items, in its order
            child, row.upn, row.date_of_birth, GENDER.get(row.sex or "", "9"), day,
            row.source, row.primary_need,
            None if row.outcome is None else row.outcome in NFA_OUTCOMES,
            bool(row.is_re_referral)))
    return CensusRecords(records)


def census_problems(records: Sequence[CensusRecord], year: int) -> list[str]:
    """The specification's checks that apply to referrals, as messages (none: valid)."""
    return [problem for found in problems_by_record(records, year) for problem in found]


async def census_problems_sliced(records: Sequence[CensusRecord], year: int) -> list[str]:
    """``census_problems``, letting the event loop go every few hundred records."""
    return [problem async for found in each(problems_by_record(records, year))
            for problem in found]


def problems_by_record(records: Iterable[CensusRecord], year: int) -> Iterator[list[str]]:
    """The checks' messages for each record in turn (most records: none)."""
    first, last = collection_period(year)
    seen: dict[str, tuple[date, ...]] = {}  # tuples: untracked by the garbage collector
    for n, record in enumerate(records, start=1):
        problems = []
        where = f"record {n} (child {record.LAchildID})"
        if not first <= record.CINreferralDate <= last:
            problems.append(f"{where}: CINreferralDate {record.CINreferralDate} is outside "
                            f"the collection year {first} to {last}")
        if record.ReferralSource not in REFERRAL_SOURCES:
            problems.append(f"{where}: ReferralSource {record.ReferralSource!r} is not a code")
        if record.PrimaryNeedCode is not None and record.PrimaryNeedCode not in PRIMARY_NEEDS:
            problems.append(f"{where}: PrimaryNeedCode {record.PrimaryNeedCode!r} is not N0-N9")
        if record.ReferralNFA is False and record.PrimaryNeedCode is None:
            problems.append(f"{where}: an assessment follows but PrimaryNeedCode is missing")
        if record.ReferralNFA is None:
            problems.append(f"{where}: not decided yet, so ReferralNFA is unknown")
        earlier = seen.get(record.LAchildID, ())
        if record.CINreferralDate in earlier:
            problems.append(f"{where}: the child is referred twice on "
                            f"{record.CINreferralDate} (counted once)")
        recent = any((record.CINreferralDate - d).days <= RE_REFERRAL_DAYS for d in earlier)
        if recent and not record.ReReferral:
            problems.append(f"{where}: an earlier referral within 12 months, but not marked "
                            "as a re-referral")
        seen[record.LAchildID] = (*earlier, record.CINreferralDate)
        yield problems


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


CSV_ITEMS = CensusRecord._fields


def census_csv(records: Sequence[CensusRecord]) -> str:
    """The records as CSV, the specification's item names for a header."""
    return "".join(census_csv_parts(records))


def census_csv_parts(records: Sequence[CensusRecord]) -> Iterator[str]:
    """``census_csv`` in parts: the header, then a few hundred records at a time."""
    return _csv_parts(sliced(records))


def _csv_parts(chunks: Iterable[list[CensusRecord]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_ITEMS)
    yield out.getvalue()
    for chunk in chunks:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerows([_text(getattr(record, name)) for name in CSV_ITEMS]
                         for record in chunk)
        yield out.getvalue()


async def census_csv_streamed(records: CensusRecords) -> AsyncIterator[str]:
    """``census_csv_parts`` for a streamed response, ``records`` drained as it goes: the
    loop goes on between parts."""
    async for part in each(_csv_parts(records.drain()), size=1):
        yield part


async def census_json_streamed(records: CensusRecords, year: int,
                               problems: list[str]) -> AsyncIterator[bytes]:
    """The CensusExtract as JSON, its records serialised a few hundred at a time with the
    loop let go in between (the whole extract at once held it for the year's records);
    ``records`` and ``problems`` (as many as the records, while a year is undecided)
    drained as it goes."""
    first, last = collection_period(year)
    head = CensusExtract(year=year, period_start=first, period_end=last, records=[],
                         problems=problems).model_dump_json(exclude={"records", "problems"})
    yield head[:-1].encode() + b',"records":['
    for n, chunk in enumerate(records.drain()):
        yield (b"," if n else b"") + to_json([record._asdict() for record in chunk])[1:-1]
        await let_go()
    yield b'],"problems":['
    n = 0
    while problems:
        told, problems[:SLICE] = problems[:SLICE], []
        yield (b"," if n else b"") + to_json(told)[1:-1]
        n += 1
        await let_go()
    yield b"]}"


def census_xml(records: Sequence[CensusRecord], year: int, la_code: str,
               generated_at: datetime) -> bytes:
    """The records in the census return's XML shape (Header, then a Child per record)."""
    message = ElementTree.Element("Message")
    header = ElementTree.SubElement(message, "Header")
    details = ElementTree.SubElement(header, "CollectionDetails")
    for name, value in (("Collection", "CIN"), ("Year", str(year)),
                        ("ReferenceDate", collection_period(year)[1].isoformat())):
        ElementTree.SubElement(details, name).text = value
    source = ElementTree.SubElement(header, "Source")
    for name, value in (("SourceLevel", "L"), ("LEA", la_code), ("SoftwareCode", "mash"),
                        ("Release", "1"), ("SerialNo", "1"),
                        ("DateTime", generated_at.replace(microsecond=0).isoformat())):
        ElementTree.SubElement(source, name).text = value
    children = ElementTree.SubElement(message, "Children")
    for record in records:
        child = ElementTree.SubElement(children, "Child")
        identifiers = ElementTree.SubElement(child, "ChildIdentifiers")
        ElementTree.SubElement(identifiers, "LAchildID").text = record.LAchildID
        if record.UPN:
            ElementTree.SubElement(identifiers, "UPN").text = record.UPN
        if record.PersonBirthDate:
            ElementTree.SubElement(identifiers, "PersonBirthDate").text = _text(
                record.PersonBirthDate)
        ElementTree.SubElement(identifiers, "GenderCurrent").text = record.GenderCurrent
        cin = ElementTree.SubElement(child, "CINdetails")
        ElementTree.SubElement(cin, "CINreferralDate").text = _text(record.CINreferralDate)
        ElementTree.SubElement(cin, "ReferralSource").text = record.ReferralSource
        if record.PrimaryNeedCode:
            ElementTree.SubElement(cin, "PrimaryNeedCode").text = record.PrimaryNeedCode
        if record.ReferralNFA is not None:
            ElementTree.SubElement(cin, "ReferralNFA").text = _text(record.ReferralNFA)
    ElementTree.indent(message)
    xml: bytes = ElementTree.tostring(message, encoding="utf-8", xml_declaration=True)
    return xml
