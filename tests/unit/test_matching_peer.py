"""The matcher on public data (a fixed FEBRL4 sample) and on households, at once.

FEBRL4's people live in no households: there a given name recorded wrongly must not keep
a person's records apart. mash's children live in households: there twins and siblings
must stay apart. The same engine and method serve both; m, u and the share of records
with a sibling are estimated from each data set's own records, without labels
(``fit_to_data``). bench/matching_peer.py prints the same figures on the whole data sets,
beside Splink's.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.referral.matching import MatchModel, PersonRecord, best_match
from services.referral.matching.model import household_share
from services.referral.matching.training.estimate import fit_to_data
from services.referral.matching.training.febrl import read_febrl_csv
from services.referral.matching.training.simulate import Quality, simulate
from services.referral.matching.training.synthetic import labelled_records

FEBRL = Path(__file__).resolve().parent.parent / "fixtures" / "febrl"
MODEL = MatchModel.load_default()
AMY = PersonRecord(
    given_name="Amy",
    family_name="Jones",
    date_of_birth=date(2011, 3, 4),
    sex="F",
    postcode="S60 1AA",
    address_line1="12 High Street",
)


@pytest.fixture(scope="module")
def febrl4() -> Quality:
    known = read_febrl_csv(FEBRL / "febrl4_a_sample.csv")
    arriving = read_febrl_csv(FEBRL / "febrl4_b_sample.csv")
    model = fit_to_data(MODEL, [item.record for item in [*known, *arriving]], random_pairs=100_000)
    return simulate(model, arriving, known=known)


@pytest.fixture(scope="module")
def households() -> Quality:
    labelled = labelled_records(3000, seed=5)
    model = fit_to_data(MODEL, [item.record for item in labelled], random_pairs=100_000)
    return simulate(model, labelled)


def test_febrl4_is_linked_automatically_and_precisely(febrl4: Quality) -> None:
    assert febrl4.true_pairs == 1500
    assert febrl4.precision >= 0.995
    assert febrl4.recall >= 0.99  # automatic links alone (a review makes a new person)
    assert febrl4.review_share < 0.03


def test_households_keep_twins_and_siblings_apart(households: Quality) -> None:
    assert households.true_pairs > 3000
    assert households.precision >= 0.997
    assert households.wrong_household_pairs <= 0.003 * households.true_pairs
    assert households.recall >= 0.95
    assert households.review_share < 0.03


def test_the_sibling_share_tells_a_population_of_households() -> None:
    children = [item.record for item in labelled_records(1000, seed=5)]
    assert household_share(children) > 0.2
    febrl = [item.record for item in read_febrl_csv(FEBRL / "febrl4_a_sample.csv")]
    assert household_share(febrl) < 0.01
    assert MODEL.has_households  # the packaged model is for children in households


def test_a_given_name_recorded_wrongly_links_only_where_there_are_no_households() -> None:
    other_name = PersonRecord(**{**AMY.__dict__, "given_name": "Grace"})
    assert best_match(MODEL, other_name, [("p1", AMY)])[0] == "review"  # maybe a twin
    unrelated = MODEL.with_households(0.0)
    decision, _, score = best_match(unrelated, other_name, [("p1", AMY)])
    assert decision == "link"
    assert score is not None and score.level("given_name") == "different"
    assert unrelated.contradictions(score) == ["the given names differ"]
    assert unrelated.contradictions(score, households=False) == []


def test_two_children_of_one_household_among_the_candidates_bring_the_rules_back() -> None:
    unrelated = MODEL.with_households(0.0)
    other_name = PersonRecord(**{**AMY.__dict__, "given_name": "Grace"})
    brother = PersonRecord(
        **{**AMY.__dict__, "given_name": "Oliver", "sex": "M", "date_of_birth": date(2014, 5, 6)}
    )
    decision, _, _ = best_match(unrelated, other_name, [("p1", AMY), ("p2", brother)])
    assert decision == "review"
    assert best_match(unrelated, other_name, [("p1", AMY)], households=True)[0] == "review"
