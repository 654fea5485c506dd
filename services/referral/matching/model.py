"""The Fellegi-Sunter match model: m and u probabilities per comparison level, thresholds.

A pair's total weight is the sum over fields of log2(m/u) for the level the field
compares at (0 when it is missing on either side). m is the probability of that level
among pairs of records of the same person, u among pairs of different people. Both are
estimated from data by ``services.referral.matching.training.estimate``; the packaged
model.json is its output on a synthetic population.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal, NamedTuple

from services.referral.matching import compare
from services.referral.matching.normalise import PreparedRecord, prepare
from services.referral.matching.records import FieldComparison, MatchScore, PersonRecord

Decision = Literal["link", "review", "new"]


class Weighed(NamedTuple):
    """A pair's total weight and field levels (names compared crosswise if swapped)."""

    total: float
    levels: dict[str, str]
    swapped: bool


# Pairs never linked automatically, whatever the fields add up to: the independence the
# weights assume breaks down in a household, where siblings share the family name and
# address and twins also the date of birth. Each rule: (reason, field levels that all hold).
NO_GIVEN_NAME = "no given name to tell twins apart"
ONLY_AN_INITIAL = "only an initial to tell twins apart"
GIVEN_NAMES_DIFFER = "the given names differ"
LOOSE_GIVEN_OTHER_BIRTHDAY = "the dates of birth differ and the given names agree only loosely"
TWIN_RULES = frozenset({NO_GIVEN_NAME, ONLY_AN_INITIAL})
GIVEN_NAMES_AND_SEXES_DIFFER = "the given names and the sexes differ"
NO_GIVEN_NAME_OTHER_BIRTHDAY = "no given name, and the dates of birth differ"
# The rules that protect the children of one household (twins and siblings, who share a
# family name and an address): they hold only where households are in evidence, in the
# population (``MatchModel.households``) or among a subject's candidates (two children of
# one family at one address). Without households a given name recorded wrongly is no
# reason to keep a person's records apart.
HOUSEHOLD_RULES = frozenset(
    {
        GIVEN_NAMES_DIFFER,
        NO_GIVEN_NAME,
        ONLY_AN_INITIAL,
        LOOSE_GIVEN_OTHER_BIRTHDAY,
        "the dates of birth and the family names differ",  # a half-sibling
        "the given names and the dates of birth both differ",  # a sibling
        GIVEN_NAMES_AND_SEXES_DIFFER,  # twins of opposite sexes
        NO_GIVEN_NAME_OTHER_BIRTHDAY,  # a sibling whose given name is not recorded
    }
)
# The share of records with a sibling in the population (see estimate_households) from
# which the household rules hold for every pair.
HOUSEHOLD_EVIDENCE = 0.01
_DIFFERENT = frozenset({"different"})
_LOOSE_GIVEN = frozenset({"close", "other_name", "initial", "different", "missing"})
NO_AUTOMATIC_LINK: tuple[tuple[str, dict[str, frozenset[str]]], ...] = (
    (GIVEN_NAMES_DIFFER, {"given_name": _DIFFERENT}),
    (NO_GIVEN_NAME, {"given_name": frozenset({"missing"})}),
    (ONLY_AN_INITIAL, {"given_name": frozenset({"initial"})}),
    ("the NHS numbers differ", {"nhs_number": _DIFFERENT}),
    ("the UPNs differ", {"upn": _DIFFERENT}),
    (
        "the sexes differ and the given names are not the same",
        {"sex": _DIFFERENT, "given_name": _LOOSE_GIVEN | {"variant"}},
    ),
    (LOOSE_GIVEN_OTHER_BIRTHDAY, {"date_of_birth": _DIFFERENT, "given_name": _LOOSE_GIVEN}),
    (
        "the dates of birth and the family names differ",
        {"date_of_birth": _DIFFERENT, "family_name": _DIFFERENT},
    ),
    ("the dates of birth and the sexes differ", {"date_of_birth": _DIFFERENT, "sex": _DIFFERENT}),
)

# Pairs taken for different people whatever the fields add up to: siblings share a
# household but neither a given name nor a date of birth; twins of opposite sexes share
# the date of birth too but neither a given name nor a sex; a child recorded without a
# given name and with another date of birth is, in a household, a sibling; and two
# identifiers that differ with the given names are two children, wherever they live.
DIFFERENT_PEOPLE: tuple[tuple[str, dict[str, frozenset[str]]], ...] = (
    (
        "the given names and the dates of birth both differ",
        {"given_name": _DIFFERENT, "date_of_birth": _DIFFERENT},
    ),
    (GIVEN_NAMES_AND_SEXES_DIFFER, {"given_name": _DIFFERENT, "sex": _DIFFERENT}),
    (
        NO_GIVEN_NAME_OTHER_BIRTHDAY,
        {"given_name": frozenset({"missing"}), "date_of_birth": _DIFFERENT},
    ),
    (
        "the given names and the NHS numbers differ",
        {"given_name": _DIFFERENT, "nhs_number": _DIFFERENT},
    ),
    ("the given names and the UPNs differ", {"given_name": _DIFFERENT, "upn": _DIFFERENT}),
)

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
        households: float = 1.0,
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
        # the share of records with a sibling in the population the model is used on
        self.households = households
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

    def weigh(self, subject: PersonRecord, candidate: PersonRecord) -> Weighed:
        """The total weight and the level of each field, without the explanation."""
        return self.weigh_prepared(prepare(subject), prepare(candidate))

    def weigh_prepared(self, subject: PreparedRecord, candidate: PreparedRecord) -> Weighed:
        """weigh() for records already prepared."""
        levels = compare.all_levels(subject, candidate, not self.has_households)
        swapped = levels.pop("swapped", None) is not None
        weights = self.weights
        total = 0.0
        for field, level in levels.items():
            total += weights[field][level]
        return Weighed(total, levels, swapped)

    def explain(
        self, subject: PersonRecord, candidate: PersonRecord, weighed: Weighed
    ) -> MatchScore:
        """The score of a weighed pair with each field's comparison behind it."""
        comparisons = []
        for field, level in weighed.levels.items():
            weight = self.weights[field][level]
            shown = field
            if weighed.swapped and field in ("given_name", "family_name"):
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
        return MatchScore(total_weight=weighed.total, comparisons=tuple(comparisons))

    def score(self, subject: PersonRecord, candidate: PersonRecord) -> MatchScore:
        """The total weight of a pair and each field's comparison behind it."""
        return self.explain(subject, candidate, self.weigh(subject, candidate))

    @property
    def has_households(self) -> bool:
        """Whether the population has households (so the household rules always hold)."""
        return shows_households(self.households)

    def with_households(self, households: float) -> MatchModel:
        """The same model for a population with another share of siblings."""
        return MatchModel(self.m, self.u, self.lower, self.upper, self.about, households)

    def contradictions(
        self, score: MatchScore | Mapping[str, str], households: bool = True
    ) -> list[str]:
        """Why the pair may not be linked automatically (see NO_AUTOMATIC_LINK), if so;
        without ``households``, the household rules do not count."""
        reasons = _rules_met(NO_AUTOMATIC_LINK + DIFFERENT_PEOPLE, _levels(score))
        if households:
            return reasons
        return [reason for reason in reasons if reason not in HOUSEHOLD_RULES]

    def different_people(
        self, score: MatchScore | Mapping[str, str], households: bool = True
    ) -> list[str]:
        """Why the pair is two people whatever its weight (see DIFFERENT_PEOPLE), if so
        (siblings: none without ``households``)."""
        reasons = _rules_met(DIFFERENT_PEOPLE, _levels(score))
        return reasons if households else [r for r in reasons if r not in HOUSEHOLD_RULES]

    def contradicted(
        self, score: MatchScore | Mapping[str, str], households: bool = True
    ) -> bool:
        """Whether the pair may not be linked automatically."""
        return bool(self.contradictions(score, households))

    def classify(self, score: MatchScore) -> Decision:
        """link above the upper threshold (unless contradicted), new below the lower one."""
        return self.decide(score.total_weight, _levels(score))

    def decide(
        self, total_weight: float, levels: Mapping[str, str], households: bool = True
    ) -> Decision:
        """classify() for a weighed pair (``households``: see contradictions())."""
        if self.different_people(levels, households):
            return "new"
        if total_weight >= self.upper and not self.contradicted(levels, households):
            return "link"
        if total_weight >= self.lower:
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
            "households": self.households,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchModel:
        return cls(
            m=data["m"],
            u=data["u"],
            lower=float(data["lower"]),
            upper=float(data["upper"]),
            about=data.get("about"),
            households=float(data.get("households", 1.0)),
        )

    @classmethod
    def load_default(cls) -> MatchModel:
        """The packaged model (model.json beside this module), estimated from data."""
        return _default_model()


def shows_households(share: float) -> bool:
    """Whether a population with this share of records with a sibling has households
    (the household rules hold, and names are not compared partly crossed)."""
    return share >= HOUSEHOLD_EVIDENCE


def household_share(records: Iterable[PersonRecord]) -> float:
    """The share of records with a sibling among the others: a record of the same family
    name (or part of it) at the same postcode and address whose given name and date of
    birth both differ. Labels are not needed: a person's own records rarely differ in
    both. About 0.4 in a population of children in households; 0 in a file of unrelated
    people."""
    by_home: dict[tuple[str, tuple[str, ...]], list[PreparedRecord]] = defaultdict(list)
    total = 0
    for record in records:
        total += 1
        prepared = prepare(record)
        if prepared.postcode and prepared.address and prepared.family:
            by_home[(prepared.postcode, prepared.address)].append(prepared)
    with_sibling = 0
    for members in by_home.values():
        for one in members:
            with_sibling += any(
                compare.family_name(one, other) in ("exact", "part")
                and compare.given_name(one, other) == "different"
                and compare.date_of_birth(one, other) == "different"
                for other in members
                if other is not one
            )
    return with_sibling / total if total else 0.0


def _levels(score: MatchScore | Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(score, MatchScore):
        return {comparison.field: comparison.level for comparison in score.comparisons}
    return score


def _rules_met(
    rules: tuple[tuple[str, dict[str, frozenset[str]]], ...], levels: Mapping[str, str]
) -> list[str]:
    return [
        reason
        for reason, rule in rules
        if all(levels.get(field, "missing") in allowed for field, allowed in rule.items())
    ]


@cache
def _default_model() -> MatchModel:
    text = resources.files("services.referral.matching").joinpath("model.json").read_text()
    return MatchModel.from_json(json.loads(text))
