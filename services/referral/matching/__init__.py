"""The matching engine: is this referral subject a person the hub already knows?

Pure Python (no database, no HTTP). The person index calls only the names below.
"""

from services.referral.matching.blocking import blocking_keys
from services.referral.matching.decide import best_match, identifier_decision, shares_identifier
from services.referral.matching.model import Decision, MatchModel
from services.referral.matching.records import FieldComparison, MatchScore, PersonRecord

__all__ = [
    "Decision",
    "FieldComparison",
    "MatchModel",
    "MatchScore",
    "PersonRecord",
    "best_match",
    "blocking_keys",
    "identifier_decision",
    "shares_identifier",
]
