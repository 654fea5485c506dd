"""The web client in a real browser: a referral from a police officer's form to the
outcome they see, worked by MASH staff with a school's answer in a second context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.browser import check_page, no_problems, open_session, sign_in
from tests.e2e.conftest import Hub

MARKUP = '<img src=x onerror="document.title=1"> <b>not bold</b>'


def test_sign_in_needs_the_totp_code_and_lands_on_the_queue(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    session = open_session(browser, hub)
    page = session.page
    page.goto("/#/queue")
    page.wait_for_selector("h1:has-text('Sign in')")
    check_page(page, artifacts, "sign-in")
    # Keyboard first: the skip link is the first stop and takes you to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-username"
    user = hub.user("mash.manager")
    page.fill("#f-username", "mash.manager")
    page.fill("#f-password", user["password"])
    page.fill("#f-otp", "000000")
    page.click("button:has-text('Sign in')")
    summary = page.wait_for_selector(".error-summary")
    assert "not accepted" in summary.inner_text()
    # Reported on the security code (the usual cause), not on the username.
    assert page.locator("[data-field='f-otp'] .error-message").count() == 1
    assert page.locator("[data-field='f-username'] .error-message").count() == 0
    assert page.get_attribute("#f-otp", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    check_page(page, artifacts, "sign-in-error")

    sign_in(page, hub, "mash.manager")
    page.goto("/#/queue")
    page.wait_for_selector("[data-queue-ready]")
    assert page.locator("h1").inner_text() == "Queue"
    # The session is an HttpOnly cookie: no script can read it, nothing is in storage.
    assert "mash_session" not in page.evaluate("document.cookie")
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert any(c["name"] == "mash_session" and c["httpOnly"] for c in session.context.cookies())
    # Five minutes before the session's end (8 hours), the page says when it ends.
    assert page.locator("#session-warning .notification").count() == 0
    page.clock.fast_forward("07:56:00")
    expect(page.locator("#session-warning")).to_contain_text("Your session ends at")
    page.click("button:has-text('Sign out')")
    page.wait_for_selector("text=You have signed out.")
    assert page.locator("#session-warning .notification").count() == 0
    assert not any(c["name"] == "mash_session" for c in session.context.cookies())
    no_problems(session)
    session.close()


def fill_referral_form(page: Any) -> None:
    page.fill("#f-referrer-name", "PC 4021 Ellis")  # nobody's name is assumed
    page.fill("#f-referrer-role", "Police officer")
    page.fill("#f-referrer-phone", "01632 960001")
    page.fill("#f-subjects-0-given_name", "Jordan")
    page.fill("#f-subjects-0-family_name", "Testcase")
    page.fill("#f-subjects-0-date_of_birth", "14")
    page.fill("#f-subjects-0-date_of_birth-month", "6")
    page.fill("#f-subjects-0-date_of_birth-year", "2013")
    page.check("#f-subjects-0-sex-1")  # Male
    page.fill("#f-subjects-0-nhs_number", "999 000 0034")
    page.check("label:has-text('Domestic abuse: child')")
    page.fill("#f-summary", "Police attended a domestic incident at night; the child was "
                            "present and frightened. " + MARKUP)
    page.check("label:has-text('Consent not sought')")
    page.fill("#f-consent-reason", "Asking would increase the risk to the child")


def test_a_referral_from_the_police_form_is_triaged_answered_decided_and_the_outcome_seen(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    police = open_session(browser, hub, "police.officer")
    page = police.page
    page.wait_for_selector("#waiting-summary")  # a partner starts on what waits for them
    page.click("nav >> text=Your referrals")
    page.wait_for_selector("#our-referrals")
    check_page(page, artifacts, "partner-referrals")
    page.click("nav >> text=Make a referral")
    page.wait_for_selector("#referral-form")
    check_page(page, artifacts, "partner-referral-form")

    # Immediate risk has no answer pre-set: the practitioner must say.
    page.click("button:has-text('Send the referral')")
    expect(page.locator(".error-summary")).to_contain_text("immediate risk")
    page.check("#f-immediate_risk-1")  # No

    # Sent incomplete: the API's messages, by each field and in a summary at the top.
    page.check("label:has-text('Consent not sought')")
    page.click("button:has-text('Send the referral')")
    summary = page.wait_for_selector(".error-summary")
    text = summary.inner_text()
    assert "There is a problem" in text
    assert "Concerns: choose at least one" in text
    assert "List should have" not in text and "validation" not in text  # plain English
    assert "Why consent was not given or not sought: say why consent was not given" in text
    assert "Child 1: first name: a subject needs a name" in text
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    concerns_group = page.locator("[data-field='f-concerns']")
    assert "form-group--error" in (concerns_group.get_attribute("class") or "")
    assert concerns_group.locator(".error-message").count() == 1
    check_page(page, artifacts, "partner-referral-form-errors")
    page.click(".error-summary a:has-text('Why consent')")
    assert page.evaluate("document.activeElement.id") == "f-consent-reason"

    fill_referral_form(page)
    page.click("button:has-text('Send the referral')")
    reference = page.wait_for_selector("#referral-reference").inner_text()
    assert reference.startswith("MASH-")
    check_page(page, artifacts, "partner-referral-received")

    # The practitioner finds it in the queue and works it.
    staff = open_session(browser, hub, "mash.practitioner")
    work = staff.page
    work.goto("/#/queue")
    work.wait_for_selector(f"a.queue-link:has-text('{reference}')")
    work.click(f"a.queue-link:has-text('{reference}')")
    work.wait_for_selector(f"h1:has-text('{reference}')")
    body = work.locator("main").inner_text()
    assert "Domestic abuse: child (3A)" in body
    assert "Police (6)" in body
    assert "999 000 0034" in body
    assert "Consent not sought" in body
    # The referrer's words are text, never markup.
    narrative = work.locator("p.narrative").first
    assert MARKUP in narrative.inner_text()
    assert narrative.locator("img, b").count() == 0
    check_page(work, artifacts, "referral")

    work.check("#triage-form label:has-text('Amber')")
    work.fill("#t-rationale", "Child present at a domestic incident; no injuries reported.")
    work.click("button:has-text('Save triage')")
    work.wait_for_selector("text=Triage saved: Amber.")
    assert "Triaged" in work.locator("main p.body").first.inner_text()

    work.select_option("#ir-agency_id", label="Riverside Academy")
    work.fill("#ir-question", "Has Jordan's attendance or behaviour changed this term?")
    work.click("button:has-text('Send the question')")
    work.wait_for_selector("text=Question sent to Riverside Academy.")
    assert work.locator(".request:has-text('Awaiting answer')").count() == 1

    # The school answers in a context of its own.
    school = open_session(browser, hub, "school.dsl")
    answer_page = school.page
    answer_page.click("nav >> text=Information requests")
    card = answer_page.wait_for_selector(".request:has-text('attendance or behaviour')")
    assert "Jordan" in card.inner_text()  # the question, as asked
    assert reference not in answer_page.locator("main").inner_text()  # not the referral
    check_page(answer_page, artifacts, "partner-information-requests")
    card_id = card.get_attribute("data-request-id")
    answer_page.fill(f"#a-{card_id}", "Attendance fell to 81% this term; he seems tired.")
    answer_page.click(f"[data-request-id='{card_id}'] button:has-text('Send the answer')")
    answer_page.wait_for_selector("text=Answer sent to the MASH.")
    assert "he seems tired" in answer_page.locator("#answered").inner_text()

    work.reload()
    work.wait_for_selector(".request:has-text('Answered')")
    assert "Attendance fell to 81%" in work.locator(".request").inner_text()

    # A strategy discussion needs a manager: the practitioner is told it goes for approval
    # (tests/e2e/test_practitioners_day.py follows one through).
    assert "Goes to a MASH manager for approval" in \
        work.locator("#decision-form").inner_text()

    work.check("label:has-text('Early help')")
    work.fill("#d-rationale", "Needs support at home; family to be offered early help.")
    work.click("button:has-text('Record the decision')")
    work.wait_for_selector("text=Decision recorded: Early help.")
    decision = work.locator("section[aria-labelledby='decision-title']").inner_text()
    assert "Early help" in decision and "Referrer told" in decision
    assert "Priya Shah" in work.locator(".timeline").inner_text()
    check_page(work, artifacts, "referral-decided")

    # The police officer sees the outcome.
    page.click("nav >> text=Your referrals")
    row = page.wait_for_selector(f"#our-referrals tr:has-text('{reference}')")
    assert "Early help" in row.inner_text()
    page.click(f"a:has-text('{reference}')")
    assert page.wait_for_selector("#outcome").inner_text() == "Early help"
    # The limited view: what the agency sent, and the outcome, not the MASH's file.
    assert "Jordan" in page.locator("#as-sent").inner_text()
    assert "Needs support at home" not in page.locator("main").inner_text()
    check_page(page, artifacts, "partner-outcome")

    for session in (police, staff, school):
        no_problems(session)
        session.close()
