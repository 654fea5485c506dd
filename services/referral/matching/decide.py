"""Decisions for a subject: identifier matches first, then the best probabilistic match."""

from __future__ import annotations

from collections.abc import Iterable

from services.referral.matching import compare
from services.referral.matching.model import TWIN_RULES, Decision, MatchModel, Weighed
from services.referral.matching.normalise import PreparedRecord, prepare
from services.referral.matching.records import MatchScore, PersonRecord

IDENTIFIERS = ("nhs_number", "upn")
_SAME_NAME = ("exact", "variant")


def shares_identifier(subject: PersonRecord, candidate: PersonRecord) -> bool:
    """Whether both records carry the same NHS number or the same UPN."""
    return _shares_identifier(prepare(subject), prepare(candidate))


def _shares_identifier(first: PreparedRecord, second: PreparedRecord) -> bool:
    return bool(
        (first.nhs_number and first.nhs_number == second.nhs_number)
        or (first.upn and first.upn == second.upn)
    )


def identifier_decision(
    subject: PersonRecord, candidate: PersonRecord, model: MatchModel
) -> Decision:
    """For an exact NHS number / UPN match: link, unless the other details flatly
    contradict it (then review): the given names differ, or the dates of birth differ
    without the same given name, or the other identifier differs, or the other fields'
    weights add up to evidence against."""
    return _identifier_decision(model, model.score(subject, candidate))


def _identifier_decision(model: MatchModel, score: MatchScore) -> Decision:
    levels = {c.field: c.level for c in score.comparisons}
    if levels["given_name"] == "different":
        return "review"  # the number of a twin or sibling recorded on the wrong child
    if levels["date_of_birth"] == "different" and levels["given_name"] not in _SAME_NAME:
        return "review"
    if "different" in (levels["nhs_number"], levels["upn"]):
        return "review"  # one identifier agrees, the other does not
    if sum(c.weight for c in score.comparisons if c.field not in IDENTIFIERS) < 0:
        return "review"  # the other details, on balance, speak against
    return "link"


_NEAR_DATES = ("exact", "transposed", "one_digit")


def _twin_rule_only(model: MatchModel, weighed: Weighed) -> bool:
    """Whether the pair would link but for a missing or initial given name (with the
    same family name: without it, the date of birth and the address are a half-sibling's
    too)."""
    reasons = model.contradictions(weighed.levels)
    return (
        weighed.total >= model.upper
        and bool(reasons)
        and set(reasons) <= TWIN_RULES
        and weighed.levels["date_of_birth"] in _NEAR_DATES
        and weighed.levels["family_name"] != "different"
    )


def _could_be_twin(weighed: Weighed, record: PersonRecord, chosen: PersonRecord) -> bool:
    """Whether another candidate person could be a twin of the chosen one: born the same
    day, same family, and not called as the chosen person is (else it is more likely the
    same child held twice)."""
    levels = weighed.levels
    if levels["date_of_birth"] not in _NEAR_DATES or levels["family_name"] == "different":
        return False
    return compare.given_name(prepare(record), prepare(chosen)) not in ("exact", "variant", "close")


def _one_household(first: PersonRecord, second: PersonRecord) -> bool:
    """Whether two records of different people are two children of one household: one
    family name at one address, different given names."""
    one, other = prepare(first), prepare(second)
    return (
        compare.family_name(one, other) in ("exact", "part")
        and compare.address(one, other) in ("exact", "close")
        and compare.postcode(one, other) in ("exact", "missing")
        and compare.given_name(one, other) == "different"
    )


def best_match(
    model: MatchModel,
    subject: PersonRecord,
    candidates: Iterable[tuple[str, PersonRecord]],
    households: bool | None = None,
) -> tuple[Decision, str | None, MatchScore | None]:
    """Given (person_id, record) candidates (a person may appear with several records),
    the decision, the chosen person id and its score. Identifier matches first.

    A subject without a given name (or with only an initial) is linked automatically
    only when no other candidate person could be a twin (same date of birth and family).

    The household rules (model.HOUSEHOLD_RULES: given names that differ or are missing)
    hold when ``households`` is true; by default (None) when the model's population has
    households (``model.has_households``). Without them they still hold where another
    candidate person is a second child of the chosen person's household.
    """
    best: dict[str, tuple[Weighed, PersonRecord]] = {}
    by_identifier: dict[str, tuple[Weighed, PersonRecord]] = {}
    prepared = prepare(subject)
    for person_id, record in candidates:
        other = prepare(record)
        weighed = model.weigh_prepared(prepared, other)
        if _shares_identifier(prepared, other):
            kept = by_identifier.get(person_id)
            if kept is None or weighed.total > kept[0].total:
                by_identifier[person_id] = (weighed, record)
        kept = best.get(person_id)
        if kept is None or weighed.total > kept[0].total:
            best[person_id] = (weighed, record)
    if by_identifier:
        # one identifier on two people (a person split in two, or a number recorded on
        # the wrong child): the one whose other details agree best
        person_id, (weighed, record) = max(by_identifier.items(), key=lambda i: i[1][0].total)
        score = model.explain(subject, record, weighed)
        return _identifier_decision(model, score), person_id, score
    if not best:
        return "new", None, None
    ranked = sorted(best.items(), key=lambda item: item[1][0].total, reverse=True)
    person_id, (weighed, record) = ranked[0]
    rules = model.has_households if households is None else households
    if not rules and model.contradictions(weighed.levels):
        rules = any(_one_household(record, other) for _, (_, other) in ranked[1:])
    decision = model.decide(weighed.total, weighed.levels, rules)
    if decision == "review" and _twin_rule_only(model, weighed):
        if not any(_could_be_twin(other, rec, record) for _, (other, rec) in ranked[1:]):
            decision = "link"
    score = model.explain(subject, record, weighed)
    if decision == "new":
        return "new", None, score
    return decision, person_id, score
