"""Decisions for a subject: identifier matches first, then the best probabilistic match."""

from __future__ import annotations

from collections.abc import Iterable

from services.referral.matching.model import TWIN_RULES, Decision, MatchModel, Weighed
from services.referral.matching.normalise import PreparedRecord, prepare
from services.referral.matching.records import MatchScore, PersonRecord

IDENTIFIERS = ("nhs_number", "upn")
CLEAR_MARGIN = 3.0  # bits: how much likelier the best person must be than the next
# A field at one of these levels flatly contradicts an identifier match.
IDENTIFIER_CONTRADICTIONS = {
    "given_name": "different",
    "date_of_birth": "different",
}


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
    contradict it (then review)."""
    return _identifier_decision(model, model.score(subject, candidate))


def _identifier_decision(model: MatchModel, score: MatchScore) -> Decision:
    others = [c for c in score.comparisons if c.field not in IDENTIFIERS]
    if any(IDENTIFIER_CONTRADICTIONS.get(c.field) == c.level for c in others):
        return "review"
    if any(c.field in IDENTIFIERS and c.level == "different" for c in score.comparisons):
        return "review"  # one identifier agrees, the other does not
    if sum(c.weight for c in others) < model.lower:
        return "review"
    return "link"


_NEAR_DATES = ("exact", "transposed", "one_digit")


def _twin_rule_only(model: MatchModel, weighed: Weighed) -> bool:
    """Whether the pair would link but for a missing or initial given name."""
    reasons = model.contradictions(weighed.levels)
    return (
        weighed.total >= model.upper
        and bool(reasons)
        and set(reasons) <= TWIN_RULES
        and weighed.levels["date_of_birth"] in _NEAR_DATES
    )


def _could_be_twin(weighed: Weighed) -> bool:
    levels = weighed.levels
    return levels["date_of_birth"] in _NEAR_DATES and levels["family_name"] != "different"


def best_match(
    model: MatchModel,
    subject: PersonRecord,
    candidates: Iterable[tuple[str, PersonRecord]],
) -> tuple[Decision, str | None, MatchScore | None]:
    """Given (person_id, record) candidates (a person may appear with several records),
    the decision, the chosen person id and its score. Identifier matches first.

    A subject without a given name (or with only an initial) is linked automatically
    only when no other candidate person could be a twin (same date of birth and family).
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
    decision = model.decide(weighed.total, weighed.levels)
    if decision == "link" and len(ranked) > 1:
        runner_up = ranked[1][1][0]
        if model.decide(runner_up.total, runner_up.levels) == "link":
            # two people both look like this subject: link only if one is far more likely
            if weighed.total - runner_up.total < CLEAR_MARGIN:
                decision = "review"
    if decision == "review" and _twin_rule_only(model, weighed):
        if not any(_could_be_twin(other) for _, (other, _) in ranked[1:]):
            decision = "link"
    score = model.explain(subject, record, weighed)
    if decision == "new":
        return "new", None, score
    return decision, person_id, score
