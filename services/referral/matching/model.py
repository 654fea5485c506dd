"""The Fellegi-Sunter match model: m and u probabilities per comparison level, thresholds.

A pair's total weight is the sum over fields of log2(m/u) for the level the field
compares at (0 when it is missing on either side). m is the probability of that level
among pairs of records of the same person, u among pairs of different people. Both are
estimated from data by ``services.referral.matching.estimate``; the packaged model.json
is its output on a synthetic population.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, Literal

from services.referral.matching import compare
from services.referral.matching.normalise import PreparedRecord, prepare
from services.referral.matching.records import FieldComparison, MatchScore, PersonRecord

Decision = Literal["link", "review", "new"]

COMPARATORS: dict[str, Callable[[PreparedRecord, PreparedRecord], str]] = {
    "given_name": compare.given_name,
    "family_name": compare.family_name,
    "date_of_birth": compare.date_of_birth,
    "sex": compare.sex,
    "postcode": compare.postcode,
    "address": compare.address,
    "nhs_number": compare.nhs_number,
    "upn": compare.upn,
}

# Levels at which a field flatly contradicts a match: a pair with one of these is never
# linked automatically, whatever the other fields add up to (twins share everything
# but their given names and identifiers).
CONTRADICTIONS: dict[str, frozenset[str]] = {
    "given_name": frozenset({"different"}),
    "nhs_number": frozenset({"different"}),
    "upn": frozenset({"different"}),
}

_FLOOR = 1e-6  # no probability is taken as exactly 0 or 1


def _display(record: PersonRecord, field: str) -> str | None:
    value: object
    if field == "address":
        value = record.address_line1
    elif field == "date_of_birth":
        value = record.date_of_birth.isoformat() if record.date_of_birth else None
    else:
        value = getattr(record, field)
    return None if value is None or value == "" else str(value)


class MatchModel:
    """m/u probabilities per field and level, and the two decision thresholds."""

    def __init__(
        self,
        m: dict[str, dict[str, float]],
        u: dict[str, dict[str, float]],
        lower: float,
        upper: float,
        about: dict[str, Any] | None = None,
    ) -> None:
        missing = [
            f"{field}.{level}"
            for field, levels in compare.LEVELS.items()
            for level in levels
            if level != "missing"
            and (level not in m.get(field, {}) or level not in u.get(field, {}))
        ]
        if missing:
            raise ValueError(f"the model lacks m or u for {', '.join(missing)}")
        if lower > upper:
            raise ValueError("the lower threshold is above the upper one")
        self.m = {field: dict(levels) for field, levels in m.items()}
        self.u = {field: dict(levels) for field, levels in u.items()}
        self.lower = lower
        self.upper = upper
        self.about = dict(about or {})
        self.weights: dict[str, dict[str, float]] = {
            field: {
                level: 0.0 if level == "missing" else self._weight(field, level) for level in levels
            }
            for field, levels in compare.LEVELS.items()
        }

    def _weight(self, field: str, level: str) -> float:
        m = min(max(self.m[field][level], _FLOOR), 1.0)
        u = min(max(self.u[field][level], _FLOOR), 1.0)
        return math.log2(m / u)

    def levels(self, subject: PreparedRecord, candidate: PreparedRecord) -> dict[str, str]:
        """The comparison level of every field, names compared crosswise if swapped."""
        levels = {
            field: comparator(subject, candidate) for field, comparator in COMPARATORS.items()
        }
        if levels["given_name"] == "different" and levels["family_name"] in ("different", "part"):
            crossed = compare.swapped(subject)
            given, family = (
                compare.given_name(crossed, candidate),
                compare.family_name(crossed, candidate),
            )
            if given != "different" and family != "different":
                levels["given_name"], levels["family_name"] = given, family
                levels["swapped"] = "yes"
        return levels

    def score(self, subject: PersonRecord, candidate: PersonRecord) -> MatchScore:
        """The total weight of a pair and each field's comparison behind it."""
        levels = self.levels(prepare(subject), prepare(candidate))
        swapped = levels.pop("swapped", None) is not None
        comparisons = []
        total = 0.0
        for field, level in levels.items():
            weight = self.weights[field][level]
            total += weight
            shown = field
            if swapped and field in ("given_name", "family_name"):
                shown = "family_name" if field == "given_name" else "given_name"
            comparisons.append(
                FieldComparison(
                    field=field,
                    level=level,
                    agrees=None if level == "missing" else weight > 0,
                    weight=weight,
                    subject_value=_display(subject, shown),
                    candidate_value=_display(candidate, field),
                )
            )
        return MatchScore(total_weight=total, comparisons=tuple(comparisons))

    def contradicted(self, score: MatchScore) -> bool:
        """Whether a field flatly contradicts the pair (see CONTRADICTIONS)."""
        return any(
            comparison.level in CONTRADICTIONS.get(comparison.field, ())
            for comparison in score.comparisons
        )

    def classify(self, score: MatchScore) -> Decision:
        """link above the upper threshold (unless contradicted), new below the lower one."""
        if score.total_weight >= self.upper and not self.contradicted(score):
            return "link"
        if score.total_weight >= self.lower:
            return "review"
        return "new"

    def to_json(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "upper": self.upper,
            "m": self.m,
            "u": self.u,
            "weights": {
                field: {level: round(weight, 3) for level, weight in levels.items()}
                for field, levels in self.weights.items()
            },
            "about": self.about,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchModel:
        return cls(
            m=data["m"],
            u=data["u"],
            lower=float(data["lower"]),
            upper=float(data["upper"]),
            about=data.get("about"),
        )

    @classmethod
    def load_default(cls) -> MatchModel:
        """The packaged model (model.json beside this module), estimated from data."""
        return _default_model()


@cache
def _default_model() -> MatchModel:
    text = resources.files("services.referral.matching").joinpath("model.json").read_text()
    return MatchModel.from_json(json.loads(text))
