"""The public paths of the referral service's records, spelt once."""

from __future__ import annotations

REFERRALS = "/api/v1/referrals"
INFORMATION_REQUESTS = "/api/v1/information-requests"
MATCH_REVIEWS = "/api/v1/match-reviews"
PEOPLE = "/api/v1/people"
ALERTS = "/api/v1/alerts"
MISSING_EPISODES = "/api/v1/missing-episodes"
ENCOMPASS_NOTICES = "/api/v1/encompass-notices"


def referral_path(referral_id: str) -> str:
    """The public path of one referral."""
    return f"{REFERRALS}/{referral_id}"


def encompass_path(referral_id: str) -> str:
    """Where a school reads its pupils' part of an Operation Encompass notification."""
    return f"{referral_path(referral_id)}/encompass"


def information_request_path(request_id: str) -> str:
    """The public path of one information request."""
    return f"{INFORMATION_REQUESTS}/{request_id}"


def match_review_path(review_id: str) -> str:
    """The public path of one match review."""
    return f"{MATCH_REVIEWS}/{review_id}"


def person_path(person_id: str) -> str:
    """The public path of one person in the index."""
    return f"{PEOPLE}/{person_id}"


def alert_path(alert_id: str) -> str:
    """The public path of one pattern alert."""
    return f"{ALERTS}/{alert_id}"


def missing_episode_path(episode_id: str) -> str:
    """The public path of one missing episode."""
    return f"{MISSING_EPISODES}/{episode_id}"
