"""Decisions for a subject: identifier matches first, then the best probabilistic match."""

from __future__ import annotations

from collections.abc import Iterable

from services.referral.matching.model import Decision, MatchModel
from services.referral.matching.normalise import prepare
from services.referral.matching.records import MatchScore, PersonRecord

IDENTIFIERS = ("nhs_number", "upn")
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


def best_match(
    model: MatchModel,
    subject: PersonRecord,
    candidates: Iterable[tuple[str, PersonRecord]],
) -> tuple[Decision, str | None, MatchScore | None]:
    """Given (person_id, record) candidates (a person may appear with several records),
    the decision, the chosen person id and its score. Identifier matches first."""
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
        if len(by_identifier) > 1:
            return "review", person_id, score  # one identifier, two people: a human decides
        return _identifier_decision(model, score), person_id, score
    if not best:
        return "new", None, None
    ranked = sorted(best.items(), key=lambda item: item[1].total_weight, reverse=True)
    person_id, score = ranked[0]
    decision = model.classify(score)
    if decision == "link" and len(ranked) > 1 and model.classify(ranked[1][1]) == "link":
        decision = "review"  # two people both look like this subject
    if decision == "new":
        return "new", None, score
    return decision, person_id, score
