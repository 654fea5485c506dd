"""Partners in the browser: a school's first page leads with the questions waiting for it;
it declines one (another agency holds it) and answers another, with the MASH's contact on
each card; a police officer refers two siblings and an adult in one form, with nothing
pre-set for them; and withdraws a referral sent in error."""

from __future__ import annotations

import os
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.e2e.browser import Session, check_page, no_problems, open_session
from tests.e2e.conftest import Hub

LONDON = ZoneInfo("Europe/London")
SCREENSHOTS = os.environ.get("MASH_SCREENSHOTS")  # docs/screenshots: scripts/screenshots.sh


def home_screenshot(page: Any, artifacts: Path, role: str) -> None:
    """A role's home page, checked with axe, and saved for the README when asked."""
    check_page(page, artifacts, f"home-{role}")
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"home-{role}.png"), full_page=False)


def staff_api(session: Session, hub: Hub, method: str, path: str, **kwargs: Any) -> Any:
    """The API with a browser's own session (cookie + anti-CSRF header)."""
    headers = {"x-mash-csrf": "1", **kwargs.pop("headers", {})}
    response = session.context.request.fetch(f"{hub.base_url}{path}", method=method,
                                             headers=headers, **kwargs)
    assert response.ok, response.text()
    return response


def school_agency(hub: Hub) -> str:
    return str(hub.user("school.dsl")["agency_id"])


def test_a_school_declines_one_question_and_answers_another(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    made = hub.submit(external_reference="e2e-school-questions")
    staff = open_session(browser, hub, "mash.manager")
    read = staff_api(staff, hub, "GET", f"/api/v1/referrals/{made['id']}")
    staff_api(staff, hub, "POST", f"/api/v1/referrals/{made['id']}/triage",
              data={"rag": "amber", "rationale": "screened"},
              headers={"if-match": read.headers["etag"]})
    for question in ("Who is the family's GP?", "How has attendance been this term?"):
        asked = staff_api(staff, hub, "POST",
                          f"/api/v1/referrals/{made['id']}/information-requests",
                          data={"agency_id": school_agency(hub), "question": question}).json()
        due = datetime.fromisoformat(asked["due_at"]).astimezone(LONDON)
        assert due.weekday() < 5 and time(8, 30) <= due.time() <= time(16, 0), due

    school = open_session(browser, hub, "school.dsl")
    page = school.page
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Waiting for your agency")
    assert "questions from the MASH to answer" in page.locator("#waiting-title").inner_text()
    expect(page.locator(".waiting-list li").filter(has_text="GP")).to_have_count(1)
    home_screenshot(page, artifacts, "partner")
    # The card says the deadline is in the school's hours (checked above in the API).
    page.click("#answer-questions")
    expect(page.locator("h1")).to_have_text("Information requests")
    gp = page.locator("section.request").filter(has_text="GP")
    attendance = page.locator("section.request").filter(has_text="attendance")
    expect(gp.locator(".contact")).to_contain_text("01632 960000")
    expect(gp.locator(".contact a[href^='mailto:']")).to_have_count(1)
    due_text = gp.locator(".summary-list__value").nth(1).inner_text()
    assert "08:30\u201316:00" in due_text
    check_page(page, artifacts, "partner-requests")

    gp.locator("summary:has-text('We cannot answer this')").click()
    gp.locator("label:has-text('Another agency holds this')").click()
    gp.locator(".decline-form select").select_option(
        label="Northshire Hospitals NHS Foundation Trust")
    gp.locator(".decline-form textarea").fill("The surgery will know.")
    gp.locator("button:has-text('Decline the question')").click()
    expect(page.locator("#requests-notice")).to_contain_text("You declined the question")

    attendance = page.locator("section.request").filter(has_text="attendance")
    attendance.locator(".answer-form textarea").fill("Late on most days since October.")
    attendance.locator("button:has-text('Send the answer')").click()
    expect(page.locator("#requests-notice")).to_contain_text("Answer sent")
    expect(page.locator("#waiting")).to_contain_text("No questions are waiting")
    expect(page.locator("#answered section.card")).to_have_count(2)
    expect(page.locator("#answered")).to_contain_text("Another agency holds this")
    check_page(page, artifacts, "partner-requests-done")

    # The MASH sees the decline on the referral, with which agency holds the answer.
    full = staff_api(staff, hub, "GET", f"/api/v1/referrals/{made['id']}").json()
    declined = [t for t in full["timeline"] if t["what"] == "information_declined"]
    assert len(declined) == 1 and declined[0]["detail"]["reason"] == "held_elsewhere"
    assert declined[0]["detail"]["held_by_agency_id"] == hub.agency_id("health")
    staff.page.goto(f"/#/referrals/{made['id']}")
    card = staff.page.locator("section.request").filter(has_text="GP")
    expect(card).to_contain_text("Declined")
    expect(card.locator(".decline")).to_contain_text(
        "Another agency holds this: Northshire Hospitals NHS Foundation Trust holds it")
    expect(staff.page.locator(".timeline")).to_contain_text("declined a question")
    check_page(staff.page, artifacts, "referral-with-a-declined-question")
    no_problems(school)
    school.close()
    staff.close()


def test_a_partner_refers_two_siblings_in_one_form_and_withdraws_one_sent_in_error(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    police = open_session(browser, hub, "police.officer")
    page = police.page
    page.goto("/#/refer")
    expect(page.locator("h1")).to_have_text("Make a referral")
    assert page.input_value("#f-referrer-name") == "", "nobody's name is assumed"
    assert page.locator("input[name='f-immediate_risk']:checked").count() == 0
    page.fill("#f-referrer-name", "PC 4021 Ellis")
    page.fill("#f-referrer-role", "Police officer")
    page.fill("#f-referrer-phone", "01632 960123")
    page.fill("#f-subjects-0-given_name", "Ava")
    page.fill("#f-subjects-0-family_name", "Testsibling")
    page.fill("#f-subjects-0-date_of_birth", "3")
    page.fill("#f-subjects-0-date_of_birth-month", "4")
    page.fill("#f-subjects-0-date_of_birth-year", "2015")
    page.fill("#f-subjects-0-address-line1", "1 Example Street")
    page.fill("#f-subjects-0-address-postcode", "ZZ99 1AA")
    page.click("#add-child")
    expect(page.locator("#f-subjects-1 > legend")).to_have_text("Child 2")
    page.fill("#f-subjects-1-given_name", "Leo")
    page.fill("#f-subjects-1-family_name", "Testsibling")
    page.fill("#f-subjects-1-date_of_birth", "9")
    page.fill("#f-subjects-1-date_of_birth-month", "11")
    page.fill("#f-subjects-1-date_of_birth-year", "2018")
    page.click("#add-person")
    page.select_option("#f-subjects-2-role", "adult_of_concern")
    page.fill("#f-subjects-2-given_name", "Max")
    page.fill("#f-subjects-2-family_name", "Testadult")
    page.locator("#f-concerns ~ label, label[for='f-concerns']").first.click()
    page.fill("#f-summary", "Both children were present at a domestic incident last night.")
    page.locator("label[for='f-consent-status-2']").click()
    page.fill("#f-consent-reason", "Asking would put the children at more risk.")
    page.fill("#f-external_reference", "e2e-siblings")
    check_page(page, artifacts, "partner-refer-siblings")

    # Nothing is assumed about immediate risk: the practitioner must say.
    page.click("button:has-text('Send the referral')")
    expect(page.locator(".error-summary")).to_contain_text("immediate risk")
    page.locator("label[for='f-immediate_risk-1']").click()
    page.click("button:has-text('Send the referral')")
    expect(page.locator("h1")).to_have_text("Referral received")
    reference = page.inner_text("#referral-reference")

    staff = open_session(browser, hub, "mash.practitioner")
    found = staff_api(staff, hub, "GET", f"/api/v1/referrals?q={reference}").json()["items"]
    full = staff_api(staff, hub, "GET", f"/api/v1/referrals/{found[0]['id']}").json()
    assert [(s["role"], s["given_name"]) for s in full["subjects"]] == [
        ("child", "Ava"), ("child", "Leo"), ("adult_of_concern", "Max")]
    assert full["immediate_risk"] is False
    assert full["subjects"][1]["address"]["postcode"] == "ZZ99 1AA", "the household's address"

    # What the agency sent, then withdrawing it (sent in error).
    page.click("text=Follow this referral")
    expect(page.locator("#as-sent")).to_contain_text("Leo")
    expect(page.locator("#as-sent")).to_contain_text("Max")
    check_page(page, artifacts, "partner-referral-as-sent")
    page.click("summary:has-text('Withdraw this referral')")
    page.fill("#w-reason", "Sent about the wrong family.")
    page.click("button:has-text('Withdraw the referral')")
    expect(page.locator("#status")).to_have_text("Withdrawn")
    expect(page.locator("#withdraw")).to_have_count(0)
    full = staff_api(staff, hub, "GET", f"/api/v1/referrals/{found[0]['id']}").json()
    assert full["status"] == "withdrawn"
    assert full["timeline"][-1]["detail"]["reason"] == "Sent about the wrong family."
    no_problems(police)
    police.close()
    staff.close()
