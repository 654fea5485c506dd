"""What the engine compares (person records) and what it answers (scores with reasons)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "address",
    "nhs_number",
    "upn",
)


@dataclass(frozen=True)
class PersonRecord:
    """One set of details about a person: a referral subject, or what the index knows."""

    given_name: str | None = None
    family_name: str | None = None
    other_names: tuple[str, ...] = ()
    date_of_birth: date | None = None
    sex: str | None = None  # "F" | "M" | "U" | None
    postcode: str | None = None  # normalised "S60 1AA"
    address_line1: str | None = None
    nhs_number: str | None = None  # 10 digits, valid
    upn: str | None = None


@dataclass(frozen=True)
class FieldComparison:
    """How one field of a subject compares with the same field of a candidate."""

    field: str
    level: str
    agrees: bool | None  # None when either side is missing
    weight: float  # log2(m/u) for that level (0 when missing)
    subject_value: str | None
    candidate_value: str | None

    def as_dict(self) -> dict[str, Any]:
        """Every field as it is (``dataclasses.asdict`` without its deep copy)."""
        return {"field": self.field, "level": self.level, "agrees": self.agrees,
                "weight": self.weight, "subject_value": self.subject_value,
                "candidate_value": self.candidate_value}

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "level": self.level,
            "agrees": self.agrees,
            "weight": round(self.weight, 3),
            "subject_value": self.subject_value,
            "candidate_value": self.candidate_value,
        }


@dataclass(frozen=True)
class MatchScore:
    """The total match weight of a pair and the comparison of each field behind it."""

    total_weight: float
    comparisons: tuple[FieldComparison, ...]

    def level(self, field: str) -> str:
        """The level of one field (``missing`` when the field was not compared)."""
        for comparison in self.comparisons:
            if comparison.field == field:
                return comparison.level
        return "missing"

    def to_json(self) -> dict[str, Any]:
        return {
            "total_weight": round(self.total_weight, 3),
            "comparisons": [comparison.to_json() for comparison in self.comparisons],
        }
