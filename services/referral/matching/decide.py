"""Decisions for a subject: identifier matches first, then the best probabilistic match."""

from __future__ import annotations

from collections.abc import Iterable

from services.referral.matching.model import TWIN_RULES, Decision, MatchModel
from services.referral.matching.normalise import prepare
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
    first, second = prepare(subject), prepare(candidate)
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


def _twin_rule_only(model: MatchModel, score: MatchScore) -> bool:
    """Whether the pair would link but for a missing or initial given name."""
    reasons = model.contradictions(score)
    return (
        score.total_weight >= model.upper
        and bool(reasons)
        and set(reasons) <= TWIN_RULES
        and score.level("date_of_birth") in ("exact", "transposed", "one_digit")
    )


def _could_be_twin(score: MatchScore) -> bool:
    return score.level("date_of_birth") in ("exact", "transposed", "one_digit") and (
        score.level("family_name") != "different"
    )


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
    best: dict[str, MatchScore] = {}
    by_identifier: dict[str, MatchScore] = {}
    for person_id, record in candidates:
        score = model.score(subject, record)
        if shares_identifier(subject, record):
            kept = by_identifier.get(person_id)
            if kept is None or score.total_weight > kept.total_weight:
                by_identifier[person_id] = score
        kept = best.get(person_id)
        if kept is None or score.total_weight > kept.total_weight:
            best[person_id] = score
    if by_identifier:
        person_id, score = max(by_identifier.items(), key=lambda item: item[1].total_weight)
        # one identifier on two people (a person split in two, or a number recorded on
        # the wrong child): the one whose other details agree best
        return _identifier_decision(model, score), person_id, score
    if not best:
        return "new", None, None
    ranked = sorted(best.items(), key=lambda item: item[1].total_weight, reverse=True)
    person_id, score = ranked[0]
    decision = model.classify(score)
    if decision == "link" and len(ranked) > 1 and model.classify(ranked[1][1]) == "link":
        # two people both look like this subject: link only if one is far more likely
        if score.total_weight - ranked[1][1].total_weight < CLEAR_MARGIN:
            decision = "review"
    if decision == "review" and _twin_rule_only(model, score):
        others = (other for other_id, other in ranked[1:])
        if not any(_could_be_twin(other) for other in others):
            decision = "link"
    if decision == "new":
        return "new", None, score
    return decision, person_id, score
