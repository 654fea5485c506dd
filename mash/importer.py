"""`mash import`: a legacy system's referrals brought into the hub through intake's own
path: the public body's validation, the person index (so a child already known is one
person), the chronology and the audit chain.

A line is a referral in the public body format (CONTRACT.md), as NDJSON or as CSV whose
columns are the body's fields by dotted path (``subjects.0.given_name``,
``referrer.name``; ``concerns`` separated by ``;``). Two fields are the importer's own:
``received_at``, when the legacy system received it (ISO 8601 with its offset; default
now), and ``referring_agency_id``, whose referral it was (default ``--agency``).

Every line needs an ``external_reference`` (the legacy system's id): a line whose
reference the hub already holds is skipped, so an import cut short is simply run again.
Lines that cannot be brought in go to a report file with the reason, and the rest of the
file goes on. Imported referrals are not announced: partners and schools were told when
they were made. Give the lines oldest first, so re-referrals are flagged as they were.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import col, select

from services.referral.intake.service import IntakeBatch, submit_referral
from services.referral.referrals.models import Referral
from services.referral.referrals.schemas import ReferralCreate
from services.referral.settings import HubSettings
from services.referral.workflow.working_time import WorkingCalendar
from shared.auth import Principal
from shared.db import Database
from shared.roles import Role

BATCH = 200
# The database is analysed after ANALYZE_FIRST lines and each doubling after.
ANALYZE_FIRST = 5_000
IMPORTER = "mash-import"  # the submitter the chronology and the audit log name


@dataclass(frozen=True)
class Line:
    """One line of the file: its number (1 is the first referral) and what it holds."""

    number: int
    fields: dict[str, Any] | None
    problem: str | None = None


@dataclass(frozen=True)
class Ready:
    """A line that passed validation, with what the importer adds to the body."""

    number: int
    body: ReferralCreate
    received_at: datetime | None
    agency_id: str


@dataclass
class Tally:
    """What an import did so far."""

    imported: int = 0
    already_there: int = 0
    rejected: int = 0
    rejects: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.imported + self.already_there + self.rejected


def read_lines(path: Path) -> Iterator[Line]:
    """The file's referrals: NDJSON, or CSV if its name ends in ``.csv``."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as stream:
            yield from _csv_lines(stream)
    else:
        with path.open("rb") as raw:
            yield from _ndjson_lines(raw)


def count_lines(path: Path) -> int:
    """How many referrals the file holds (for the progress bar)."""
    return sum(1 for _ in read_lines(path))


def _ndjson_lines(stream: BinaryIO) -> Iterator[Line]:
    number = 0
    for raw in stream:
        if not raw.strip():
            continue
        number += 1
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            yield Line(number, None, "not UTF-8 text")
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Line(number, None, f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(value, dict):
            yield Line(number, None, "not a JSON object")
            continue
        yield Line(number, value)


def _csv_lines(stream: TextIO) -> Iterator[Line]:
    for number, row in enumerate(csv.DictReader(stream), start=1):
        try:
            yield Line(number, unflatten(row))
        except ValueError as exc:
            yield Line(number, None, str(exc))


def unflatten(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row with dotted column names as the nested body (empty cells left out)."""
    body: dict[str, Any] = {}
    for name, cell in row.items():
        if name is None:
            raise ValueError("more cells than columns")
        if cell is None or not cell.strip():
            continue
        value: Any = cell.strip()
        if name == "concerns":
            value = [code.strip() for code in value.split(";") if code.strip()]
        elif name == "immediate_risk":
            if value.lower() not in ("true", "false"):
                raise ValueError("immediate_risk: give true or false")
            value = value.lower() == "true"
        _put(body, name.strip().split("."), value)
    return body


def _put(container: dict[str, Any] | list[Any], path: list[str], value: Any) -> None:
    key, rest = path[0], path[1:]
    if isinstance(container, list):
        if not key.isdigit() or int(key) > 50:
            raise ValueError(f"column {'.'.join(path)}: a list position must be 0 to 50")
        index = int(key)
        container.extend({} for _ in range(index + 1 - len(container)))
        if rest:
            _put(container[index], rest, value)
        else:
            container[index] = value
        return
    if not rest:
        container[key] = value
        return
    child = container.setdefault(key, [] if rest[0].isdigit() else {})
    _put(child, rest, value)


def check(line: Line, default_agency: str) -> Ready | str:
    """The line as a referral ready to write, or why it cannot be one."""
    if line.fields is None:
        return line.problem or "unreadable"
    fields = dict(line.fields)
    received = fields.pop("received_at", None)
    agency = fields.pop("referring_agency_id", None) or default_agency
    if isinstance(fields.get("subjects"), list):  # a CSV's unused positions
        fields["subjects"] = [s for s in fields["subjects"] if s != {}]
    try:
        body = ReferralCreate.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"
    if not body.external_reference:
        return "external_reference: required for import (it makes a repeated import safe)"
    received_at = None
    if received is not None:
        try:
            received_at = datetime.fromisoformat(str(received))
        except ValueError:
            return "received_at: not an ISO 8601 date and time"
        if received_at.tzinfo is None:
            return "received_at: give the offset from UTC (e.g. 2025-03-01T09:30:00+00:00)"
    return Ready(line.number, body, received_at, str(agency))


def importer(agency_id: str) -> Principal:
    """Who brings the lines in: MASH staff recording others' referrals."""
    return Principal(subject=IMPORTER, agency_id=agency_id,
                     roles=frozenset({Role.MASH_PRACTITIONER}), kind="client",
                     token_id=IMPORTER)


class Importer:
    """Writes checked lines in batches, one transaction each, skipping any the hub holds."""

    def __init__(self, database: Database, default_agency: str,
                 calendar: WorkingCalendar | None = None) -> None:
        self.database = database
        self.default_agency = default_agency
        self.calendar = calendar or WorkingCalendar(HubSettings())
        self.tally = Tally()
        self.analysed_at = 0  # lines imported when the tables were last analysed

    async def analyse_as_it_grows(self) -> None:
        """On PostgreSQL, have the planner's statistics follow the tables each time the
        import has doubled what it brought in (from ANALYZE_FIRST lines): autovacuum
        comes round too late for an import that grows them many times over, and plans
        made for nearly empty tables get slower with every batch."""
        if self.database.is_sqlite or self.tally.imported < max(ANALYZE_FIRST,
                                                                2 * self.analysed_at):
            return
        async with self.database.engine.connect() as connection:
            await connection.execute(text("ANALYZE"))  # every table the import grows
            await connection.commit()
        self.analysed_at = self.tally.imported

    def reject(self, number: int, reference: str, reason: str) -> None:
        self.tally.rejected += 1
        self.tally.rejects.append((number, reference, reason))

    async def add(self, lines: list[Line]) -> None:
        """Check, dedupe and write one batch of lines."""
        ready: list[Ready] = []
        for line in lines:
            checked = check(line, self.default_agency)
            if isinstance(checked, str):
                reference = (line.fields or {}).get("external_reference") or ""
                self.reject(line.number, str(reference), checked)
            else:
                ready.append(checked)
        held = await self._held([r.body.external_reference or "" for r in ready])
        fresh: list[Ready] = []
        taken: set[str | None] = set()  # the references of ``fresh``
        for item in ready:
            reference = item.body.external_reference or ""
            if reference in held:
                self.tally.already_there += 1
            elif reference in taken:
                self.reject(item.number, reference, "external_reference: repeats an earlier "
                                                    "line of this batch")
            else:
                fresh.append(item)
                taken.add(item.body.external_reference)
        if not fresh:
            return
        try:
            await self._write(fresh)
        except Exception:
            for item in fresh:  # alone, so that one that cannot be written fails alone
                try:
                    await self._write([item])
                except Exception as exc:
                    self.reject(item.number, item.body.external_reference or "",
                                f"could not be stored ({type(exc).__name__})")

    async def _held(self, references: list[str]) -> set[str]:
        if not references:
            return set()
        column = col(Referral.external_reference)
        query: Any = select(column).where(column.in_(references))
        async with self.database.unit_of_work() as uow:
            return {str(value) for value in (await uow.session.exec(query)).all()}

    async def _write(self, items: list[Ready]) -> None:
        async with self.database.unit_of_work() as uow:
            batch = IntakeBatch()
            await batch.prefetch(uow, [item.body for item in items])
            for item in items:
                await submit_referral(uow, item.body, importer(item.agency_id), self.calendar,
                                      batch=batch, on_behalf=True,
                                      received_at=item.received_at, announce=False)
            await batch.write(uow, bulk=True)  # rows by COPY on PostgreSQL
            await uow.commit()
        self.tally.imported += len(items)
        await self.analyse_as_it_grows()


def write_rejects(path: Path, tally: Tally) -> None:
    """The lines not brought in, with the reason: ``line,external_reference,reason``."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["line", "external_reference", "reason"])
        writer.writerows(sorted(tally.rejects))


async def import_file(database: Database, path: Path, default_agency: str, *,
                      batch: int = BATCH, progress: Any = None) -> Tally:
    """Bring every line of ``path`` in; ``progress(lines)`` is told of each batch."""
    work = Importer(database, default_agency)
    pending: list[Line] = []
    for line in read_lines(path):
        pending.append(line)
        if len(pending) >= batch:
            await work.add(pending)
            if progress is not None:
                progress(len(pending))
            pending = []
    if pending:
        await work.add(pending)
        if progress is not None:
            progress(len(pending))
    return work.tally
