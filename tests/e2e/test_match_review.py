"""A possible match in the browser: the two records side by side, decided "same child",
and the referral then shows the child's earlier referral."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.browser import check_page, no_problems, open_session
from tests.e2e.conftest import Hub

HOME = {"line1": "3 Willow Close", "town": "Northshire", "postcode": "S62 4CC"}


def child(**details: Any) -> dict[str, Any]:
    return {"role": "child", "given_name": "Amelia", "family_name": "Reviewcase",
            "date_of_birth": "2012-04-02", "sex": "F", "nhs_number": "9990000042",
            "address": HOME, **details}


def test_a_match_review_side_by_side_decided_same_child(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    first = hub.submit("northshire-health-system", source="3E", subjects=[child()],
                       external_reference="review-first")
    second = hub.submit(source="6", external_reference="review-second",
                        subjects=[child(given_name="Amanda", date_of_birth="2013-09-30")])
    staff = open_session(browser, hub, "mash.practitioner")
    page = staff.page
    page.goto(f"/#/referrals/{second['id']}")
    page.wait_for_selector("a:has-text('Review the match')")
    assert "Earlier referrals show once the possible match has been reviewed" in \
        page.locator("main").inner_text()

    page.click("nav >> text=Match reviews")
    page.wait_for_selector("#reviews a:has-text('Amanda Reviewcase and Amelia Reviewcase')")
    check_page(page, artifacts, "match-reviews")
    page.click("#reviews a:has-text('Amanda Reviewcase')")
    table = page.wait_for_selector("#comparison")
    rows = {r.split("\t")[0]: r for r in page.locator("#comparison tbody tr").all_inner_texts()}
    assert "Agrees" in rows["NHS number"] and "999 000 0042" in rows["NHS number"]
    assert "Disagrees" in rows["Date of birth"]
    assert "Amanda" in rows["First name"] and "Amelia" in rows["First name"]
    assert "Total weight" in table.inner_text()
    check_page(page, artifacts, "match-review")

    # A decision needs a reason, and the page then says who decided, when and why.
    page.click("button:has-text('Same child')")
    assert "Enter the reason" in page.wait_for_selector("#review-form .error-summary").inner_text()
    page.fill("#rv-reason", "Same NHS number; the school confirmed the date of birth.")
    page.click("button:has-text('Same child')")
    page.wait_for_selector("main >> text=Recorded: the same child.")
    decided = page.locator("#review-decided").inner_text()
    assert "Same child" in decided and "Priya Shah" in decided
    assert "the school confirmed the date of birth" in decided
    assert page.locator("#undo-form").count() == 1
    check_page(page, artifacts, "match-review-decided")

    page.goto(f"/#/referrals/{second['id']}")
    earlier = page.wait_for_selector("section[aria-labelledby='earlier-title'] table")
    assert first["reference"] in earlier.inner_text()
    assert "Northshire Hospitals" in earlier.inner_text()
    check_page(page, artifacts, "referral-earlier-referrals")
    no_problems(staff)
    staff.close()


def test_a_same_child_decision_is_undone_from_the_review_page(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    home = {"line1": "9 Undo Lane", "town": "Northshire", "postcode": "S63 5DD"}
    kid = {"role": "child", "given_name": "Harriet", "family_name": "Undocase",
           "date_of_birth": "2014-02-11", "sex": "F", "nhs_number": "9990001073", "address": home}
    hub.submit("northshire-health-system", source="3E", subjects=[kid],
               external_reference="undo-first")
    second = hub.submit(source="6", external_reference="undo-second",
                        subjects=[{**kid, "given_name": "Hannah", "date_of_birth": "2015-06-30"}])
    staff = open_session(browser, hub, "mash.practitioner")
    page = staff.page
    page.goto(f"/#/referrals/{second['id']}")
    page.click("a:has-text('Review the match')")
    page.wait_for_selector("h1:has-text('Is this the same child?')")
    page.fill("#rv-reason", "Same NHS number; the school knows her as Hannah.")
    page.click("button:has-text('Same child')")
    page.wait_for_selector("#undo-form")
    page.click("#undo-form button:has-text('Undo the decision')")
    assert "Enter why" in page.wait_for_selector("#undo-form .error-summary").inner_text()
    page.fill("#undo-reason", "The GP says these are cousins with a shared record error.")
    page.click("#undo-form button:has-text('Undo the decision')")
    page.wait_for_selector("main >> text=Undone: the records are separate again.")
    decided = page.locator("#review-decided").inner_text()
    assert "Undone" in decided and "cousins" in decided
    assert page.locator("#undo-form").count() == 0
    check_page(page, artifacts, "match-review-undone")
    no_problems(staff)
    staff.close()


def test_a_possible_match_of_an_adult_asks_about_the_same_adult(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    """An adult of concern is not called a child on the review page."""
    home = {"line1": "14 Quarry Road", "town": "Northshire", "postcode": "S64 7EE"}
    adult = {"role": "adult_of_concern", "given_name": "Gordon", "family_name": "Adultcase",
             "date_of_birth": "1981-03-14", "sex": "M", "address": home}
    hub.submit(external_reference="adult-first", subjects=[
        {"role": "child", "given_name": "Ava", "family_name": "Nearby",
         "date_of_birth": "2015-01-09"}, adult])
    second = hub.submit(external_reference="adult-second", subjects=[
        {"role": "child", "given_name": "Milo", "family_name": "Faraway",
         "date_of_birth": "2017-05-19"}, {**adult, "given_name": "Graham"}])
    staff = open_session(browser, hub, "mash.practitioner")
    page = staff.page
    page.goto(f"/#/referrals/{second['id']}")
    card = page.locator("section.card:has-text('Adult of concern')")
    link = card.locator("a:has-text('Review the match')")
    link.wait_for()
    assert "A possible match with a known adult" in card.inner_text()
    link.click()
    page.wait_for_selector("h1:has-text('Is this the same adult?')")
    text = page.locator("main").inner_text()
    assert "child" not in text.lower()
    assert page.locator("button:has-text('Same adult')").count() == 1
    assert "Known adult" in page.locator("#comparison").inner_text()
    check_page(page, artifacts, "match-review-adult")
    no_problems(staff)
    staff.close()
