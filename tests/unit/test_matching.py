"""The matching engine's comparisons, rules, blocking, model file and synthetic data."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pytest

from services.referral.identifiers import normalise_nhs_number, normalise_upn
from services.referral.matching import (
    MatchModel,
    PersonRecord,
    best_match,
    blocking_keys,
    identifier_decision,
)
from services.referral.matching.records import FIELDS
from services.referral.matching.training.estimate import expectation_maximisation
from services.referral.matching.training.synthetic import labelled_records, population

MODEL = MatchModel.load_default()

AMY = PersonRecord(
    given_name="Amy",
    family_name="Jones",
    date_of_birth=date(2011, 3, 4),
    sex="F",
    postcode="S60 1AA",
    address_line1="12 High Street",
)
NHS = "9990010005"  # 999 test range, valid check digit
NHS_OTHER = "9990010013"


def levels(subject: PersonRecord, candidate: PersonRecord) -> dict[str, str]:
    return {c.field: c.level for c in MODEL.score(subject, candidate).comparisons}


def with_(record: PersonRecord, **changes: object) -> PersonRecord:
    return PersonRecord(**{**record.__dict__, **changes})  # type: ignore[arg-type]


def test_amy_and_amelia_are_variants_of_one_given_name() -> None:
    assert levels(AMY, with_(AMY, given_name="Amelia"))["given_name"] == "variant"
    assert levels(AMY, with_(AMY, given_name="Bill"))["given_name"] == "different"
    assert (
        levels(with_(AMY, given_name="William"), with_(AMY, given_name="bill"))["given_name"]
        == "variant"
    )


def test_case_diacritics_and_punctuation_do_not_matter() -> None:
    zoe = with_(AMY, given_name="Zoë", family_name="O'Brien")
    assert levels(zoe, with_(AMY, given_name="ZOE", family_name="OBRIEN")) == levels(zoe, zoe)
    assert (
        levels(zoe, with_(AMY, given_name="zoe", family_name="o\u2019brien"))["family_name"]
        == "exact"
    )


def test_typos_are_close_and_initials_are_initials() -> None:
    assert levels(AMY, with_(AMY, given_name="Aym"))["given_name"] == "close"
    assert (
        levels(with_(AMY, given_name="Jessica"), with_(AMY, given_name="Jesicca"))["given_name"]
        == "close"
    )
    assert levels(AMY, with_(AMY, given_name="A."))["given_name"] == "initial"
    assert levels(AMY, with_(AMY, given_name=None))["given_name"] == "missing"


def test_one_part_of_a_double_barrelled_family_name_matches() -> None:
    assert levels(AMY, with_(AMY, family_name="Jones-Smith"))["family_name"] == "part"
    assert levels(AMY, with_(AMY, family_name="Smith Jones"))["family_name"] == "part"
    assert levels(AMY, with_(AMY, family_name="Jnoes"))["family_name"] == "close"
    assert levels(AMY, with_(AMY, family_name="Patel"))["family_name"] == "different"


def test_swapped_given_and_family_names_are_compared_crosswise() -> None:
    swapped = with_(AMY, given_name="Jones", family_name="Amy")
    score = MODEL.score(swapped, AMY)
    assert score.level("given_name") == "exact"
    assert score.level("family_name") == "exact"
    assert score.total_weight == pytest.approx(MODEL.score(AMY, AMY).total_weight)


def test_date_of_birth_levels() -> None:
    def dob(value: date) -> str:
        return levels(AMY, with_(AMY, date_of_birth=value))["date_of_birth"]

    assert dob(date(2011, 3, 4)) == "exact"
    assert dob(date(2011, 4, 3)) == "transposed"
    assert dob(date(2011, 3, 7)) == "one_digit"
    assert dob(date(2012, 3, 4)) == "one_digit"
    assert dob(date(2011, 3, 28)) == "year_month"
    assert dob(date(2009, 11, 20)) == "different"


def test_postcode_and_address_levels() -> None:
    def postcode(value: str) -> str:
        return levels(AMY, with_(AMY, postcode=value))["postcode"]

    assert postcode("S60 1AA") == "exact"
    assert postcode("S60 1ZZ") == "sector"
    assert postcode("S60 4AB") == "district"
    assert postcode("S61 1AA") == "close"  # a typo in another district
    assert postcode("LS1 4AB") == "different"
    assert levels(AMY, with_(AMY, address_line1="12 high st."))["address"] == "exact"
    assert levels(AMY, with_(AMY, address_line1="14 High Street"))["address"] == "street"
    assert levels(AMY, with_(AMY, address_line1="14 Low Road"))["address"] == "different"


def test_an_address_typed_with_a_space_astray_or_without_its_street_still_compares() -> None:
    def address(value: str) -> str:
        return levels(AMY, with_(AMY, address_line1=value))["address"]

    assert address("12 Highstreet") == "close"  # a space dropped
    assert address("12 Hig hStreet") == "close"  # a space moved
    assert address("12 High Sreet") == "close"  # a letter dropped
    assert address("14 Highstreet") == "street"
    assert address("12") == "number"  # the house number alone, the same
    assert address("14") == "missing"  # a number alone says nothing either way
    assert address("12 Low Road") == "different"


def test_a_surname_written_as_the_given_name_crosses_only_where_there_are_no_households() -> None:
    # the family name written as the given name, and the other name recorded afresh
    crossed = with_(AMY, given_name="Jones", family_name="Brown")
    unrelated = MODEL.with_households(0.0)
    assert levels(crossed, AMY)["given_name"] == "different"  # the packaged model: households
    score = unrelated.score(crossed, AMY)
    assert {c.field: c.level for c in score.comparisons}["given_name"] == "different"
    assert {c.field: c.level for c in score.comparisons}["family_name"] == "exact"
    # among children in households the same pattern is a sibling's family name: no crossing
    assert MODEL.score(crossed, AMY).total_weight < score.total_weight


def test_twins_of_opposite_sexes_and_children_with_two_identifiers_are_new_people() -> None:
    twin = with_(AMY, given_name="Oliver", sex="M")
    assert best_match(MODEL, twin, [("p1", AMY)])[0] == "new"
    assert MODEL.different_people(levels(twin, AMY)) == ["the given names and the sexes differ"]
    sibling = with_(AMY, given_name=None, date_of_birth=date(2014, 5, 6))
    assert best_match(MODEL, sibling, [("p1", AMY)])[0] == "new"
    numbered = with_(AMY, given_name="Grace", nhs_number=NHS)
    other = with_(AMY, nhs_number=NHS_OTHER)
    assert "the given names and the NHS numbers differ" in MODEL.different_people(
        levels(numbered, other)
    )
    # one difference alone is a review, not a new person
    assert best_match(MODEL, with_(AMY, given_name="Grace"), [("p1", AMY)])[0] == "review"


def test_weights_come_from_the_packaged_model_and_have_the_right_signs() -> None:
    weights = MODEL.weights
    for field in weights:
        assert weights[field]["exact"] > 0 > weights[field]["different"], field
        assert weights[field]["missing"] == 0
    assert weights["given_name"]["exact"] > weights["given_name"]["variant"] > 0
    assert weights["date_of_birth"]["exact"] > weights["date_of_birth"]["transposed"] > 0
    assert MODEL.lower < MODEL.upper
    assert "command" in MODEL.about  # says how it was estimated


def test_the_explanation_lists_each_field_with_its_weight() -> None:
    amelia = with_(AMY, given_name="Amelia", postcode="S60 9ZZ", address_line1="3 Low Road")
    score = MODEL.score(AMY, amelia)
    explained = {c["field"]: c for c in score.to_json()["comparisons"]}
    assert tuple(explained) == FIELDS
    assert explained["given_name"]["agrees"] is True
    assert explained["given_name"]["subject_value"] == "Amy"
    assert explained["given_name"]["candidate_value"] == "Amelia"
    assert explained["address"]["agrees"] is False
    assert explained["address"]["weight"] < 0
    assert explained["nhs_number"]["agrees"] is None
    assert explained["nhs_number"]["weight"] == 0
    total = sum(c["weight"] for c in explained.values())
    assert score.total_weight == pytest.approx(total, abs=0.01)


def test_the_same_child_described_twice_is_linked() -> None:
    amelia = with_(
        AMY, given_name="Amelia", family_name="Jones-Smith", date_of_birth=date(2011, 4, 3)
    )
    decision, person_id, score = best_match(MODEL, AMY, [("p1", amelia)])
    assert (decision, person_id) == ("link", "p1")
    assert score is not None and score.total_weight >= MODEL.upper


def test_twins_are_not_linked() -> None:
    twin = with_(AMY, given_name="Grace")  # same family, birthday, sex and address
    assert MODEL.score(AMY, twin).total_weight > MODEL.upper  # the weights alone would link
    decision, _, score = best_match(MODEL, AMY, [("p1", twin)])
    assert decision == "review"
    assert score is not None and MODEL.contradictions(score) == ["the given names differ"]
    different_numbers = best_match(
        MODEL, with_(AMY, nhs_number=NHS), [("p1", with_(twin, nhs_number=NHS_OTHER))]
    )
    assert different_numbers[0] != "link"


def test_a_sibling_is_a_new_person() -> None:
    sibling = with_(AMY, given_name="Grace", date_of_birth=date(2014, 9, 30))
    assert best_match(MODEL, AMY, [("p1", sibling)])[0] == "new"


def test_a_missing_given_name_links_only_when_no_one_could_be_a_twin() -> None:
    nameless = with_(AMY, given_name=None)
    assert best_match(MODEL, nameless, [("p1", AMY)])[0] == "link"
    twin = with_(AMY, given_name="Grace")
    assert best_match(MODEL, nameless, [("p1", AMY), ("p2", twin)])[0] == "review"


def test_an_identifier_match_links_unless_the_details_contradict_it() -> None:
    sparse = PersonRecord(given_name="Amy", family_name="Jones", nhs_number=NHS)
    assert identifier_decision(sparse, with_(AMY, nhs_number=NHS), MODEL) == "link"
    stranger = PersonRecord(
        given_name="Mohammed", family_name="Khan", date_of_birth=date(2019, 1, 1), nhs_number=NHS
    )
    assert identifier_decision(stranger, with_(AMY, nhs_number=NHS), MODEL) == "review"
    decision, person_id, _ = best_match(
        MODEL,
        stranger,
        [("p1", with_(AMY, nhs_number=NHS)), ("p2", with_(stranger, nhs_number=None))],
    )
    assert (decision, person_id) == ("review", "p1")  # identifier matches come first


def test_identifiers_that_disagree_send_a_close_match_to_review() -> None:
    decision, _, score = best_match(
        MODEL, with_(AMY, nhs_number=NHS), [("p1", with_(AMY, nhs_number=NHS_OTHER))]
    )
    assert decision == "review"
    assert score is not None and score.level("nhs_number") == "different"


def test_best_match_takes_each_persons_best_record() -> None:
    stranger = PersonRecord(given_name="Oliver", family_name="Khan", date_of_birth=date(2019, 1, 1))
    candidates = [
        ("p1", stranger),
        ("p2", with_(AMY, postcode=None)),
        ("p1", with_(stranger, sex="M")),
    ]
    decision, person_id, _ = best_match(MODEL, AMY, candidates)
    assert (decision, person_id) == ("link", "p2")
    assert best_match(MODEL, AMY, []) == ("new", None, None)
    assert best_match(MODEL, AMY, [("p1", stranger)])[:2] == ("new", None)


def test_blocking_keys_meet_despite_transposed_dates_and_swapped_names() -> None:
    keys = blocking_keys(AMY)
    assert all(len(key) <= 40 for key in keys)
    assert keys & blocking_keys(with_(AMY, date_of_birth=date(2011, 4, 3), postcode=None))
    assert keys & blocking_keys(
        with_(AMY, given_name="Jones", family_name="Amy", date_of_birth=None, postcode=None)
    )
    assert blocking_keys(with_(AMY, nhs_number=NHS)) - keys == {f"n:{NHS}"}
    assert not keys & blocking_keys(PersonRecord(given_name="Oliver", family_name="Khan"))


def test_the_model_survives_json_and_refuses_a_partial_one() -> None:
    data = json.loads(json.dumps(MODEL.to_json()))
    again = MatchModel.from_json(data)
    assert again.score(AMY, AMY).total_weight == pytest.approx(MODEL.score(AMY, AMY).total_weight)
    assert (again.lower, again.upper) == (MODEL.lower, MODEL.upper)
    del data["m"]["given_name"]["variant"]
    with pytest.raises(ValueError, match=r"given_name\.variant"):
        MatchModel.from_json(data)


def test_expectation_maximisation_recovers_m_from_unlabelled_pairs() -> None:
    u = {"given_name": {"exact": 0.02, "different": 0.98}, "sex": {"exact": 0.5, "different": 0.5}}
    patterns: Counter[tuple[tuple[str, str], ...]] = Counter()
    # 1,000 matches with m(exact) 0.9 / 0.95, 9,000 non-matches drawn with u
    for given, sex, count in (
        ("exact", "exact", 855),
        ("exact", "different", 45),
        ("different", "exact", 95),
        ("different", "different", 5),
        ("exact", "exact", 90),
        ("exact", "different", 90),
        ("different", "exact", 4410),
        ("different", "different", 4410),
    ):
        patterns[(("given_name", given), ("sex", sex))] += count
    m, share = expectation_maximisation(patterns, u)  # type: ignore[arg-type]
    assert m["given_name"]["exact"] == pytest.approx(0.9, abs=0.05)
    assert share == pytest.approx(0.1, abs=0.03)


def test_synthetic_children_are_reproducible_with_valid_identifiers() -> None:
    first = labelled_records(400, seed=3)
    assert first == labelled_records(400, seed=3)
    assert first != labelled_records(400, seed=4)
    for item in first:
        if item.record.nhs_number:
            assert normalise_nhs_number(item.record.nhs_number).startswith("999")
        if item.record.upn:
            assert normalise_upn(item.record.upn) == item.record.upn
    children = population(2000, seed=3)
    assert len({child.nhs_number for child in children}) == len(children)
    twins = [child for child in children if child.twin_of]
    assert twins
    by_id = {child.person_id: child for child in children}
    for twin in twins:
        other = by_id[twin.twin_of or ""]
        assert other.date_of_birth == twin.date_of_birth
        assert other.addresses == twin.addresses
        assert other.given_name != twin.given_name
