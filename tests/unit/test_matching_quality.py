"""Linkage quality of the packaged model over a seeded synthetic population.

Records of 4,000 synthetic children (about 8,000 records, with nicknames, typos, moves,
missing fields, siblings and twins) arrive one by one, as intake sees them. The seed is
not one the packaged model was estimated or calibrated on. bench/matching_quality.py
prints the same figures for larger populations.
"""

from __future__ import annotations

import pytest

from services.referral.matching import MatchModel
from services.referral.matching.training.simulate import Quality, simulate
from services.referral.matching.training.synthetic import LabelledRecord, labelled_records

CHILDREN = 4000
SEED = 1


@pytest.fixture(scope="module")
def labelled() -> list[LabelledRecord]:
    return labelled_records(CHILDREN, SEED)


@pytest.fixture(scope="module")
def automatic(labelled: list[LabelledRecord]) -> Quality:
    return simulate(MatchModel.load_default(), labelled)


def test_automatic_links_are_precise(automatic: Quality) -> None:
    assert automatic.true_pairs > 5000
    assert automatic.precision >= 0.995


def test_siblings_and_twins_are_rarely_linked(automatic: Quality) -> None:
    assert automatic.wrong_household_pairs <= 0.002 * automatic.true_pairs


def test_most_records_of_one_child_are_linked_without_a_human(automatic: Quality) -> None:
    assert automatic.recall >= 0.95
    assert automatic.review_share <= 0.06


def test_deciding_the_reviews_finds_nearly_every_child(labelled: list[LabelledRecord]) -> None:
    decided = simulate(MatchModel.load_default(), labelled, reviews_decided=True)
    assert decided.recall >= 0.97
    assert decided.precision >= 0.995
