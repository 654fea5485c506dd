"""Two people on one referral, and a session that ends mid-task: explained, never lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.browser import check_page, no_problems, open_session, sign_in
from tests.e2e.conftest import Hub


def test_a_stale_change_is_explained_and_the_typed_text_kept(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    referral = hub.submit(external_reference="conflict")
    practitioner = open_session(browser, hub, "mash.practitioner")
    manager = open_session(browser, hub, "mash.manager")
    for session in (practitioner, manager):
        session.page.goto(f"/#/referrals/{referral['id']}")
        session.page.wait_for_selector("#triage-form")

    manager.page.check("#triage-form label:has-text('Red')")
    manager.page.fill("#t-rationale", "Manager: sibling already on a child protection plan.")
    manager.page.click("button:has-text('Save triage')")
    manager.page.wait_for_selector("text=Triage saved: Red.")

    page = practitioner.page
    page.check("#triage-form label:has-text('Amber')")
    typed = "Practitioner: child present at the incident, no injuries."
    page.fill("#t-rationale", typed)
    page.click("button:has-text('Save triage')")
    conflict = page.wait_for_selector(".conflict")
    text = conflict.inner_text()
    assert "Someone else changed this referral" in text
    assert "Rating: now Red (was not rated)" in text
    assert "Morgan Hale" in text and "sibling already on a child protection plan" in text
    assert page.input_value("#t-rationale") == typed
    assert page.is_checked("#triage-form input[value='amber']")
    assert page.evaluate("document.activeElement.classList.contains('conflict')")
    check_page(page, artifacts, "referral-conflict")

    page.click("button:has-text('Save the new rating')")
    page.wait_for_selector("text=Triage saved: Amber.")
    for session in (practitioner, manager):
        no_problems(session)
        session.close()


def test_an_ended_session_asks_to_sign_in_again_on_the_same_page(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    referral = hub.submit(external_reference="expiry")
    practitioner = open_session(browser, hub, "mash.practitioner")
    page = practitioner.page
    page.goto(f"/#/referrals/{referral['id']}")
    page.wait_for_selector("#triage-form")
    where = page.evaluate("location.hash")
    page.check("#triage-form label:has-text('Green')")
    page.fill("#t-rationale", "Typed before the session ended.")
    practitioner.context.clear_cookies()  # as if the session had run out

    page.click("button:has-text('Save triage')")
    dialog = page.wait_for_selector("dialog[open]")
    assert "Your session has ended" in dialog.inner_text()
    check_page(page, artifacts, "session-ended")
    sign_in(page, hub, "mash.practitioner", prefix="s")

    page.wait_for_selector("text=Triage saved: Green.")
    assert page.locator("dialog[open]").count() == 0
    assert page.evaluate("location.hash") == where
    assert "Typed before the session ended." in page.locator("main").inner_text()
    no_problems(practitioner)
    practitioner.close()


def test_a_page_left_while_it_loads_does_not_draw_over_the_next(
    browser: Any, hub: Hub
) -> None:
    """A busy Monday: the queue is slow to come, the practitioner opens a referral from a
    link before it does. The queue's late answer must not replace the referral."""
    referral = hub.submit(external_reference="left-while-loading")
    practitioner = open_session(browser, hub, "mash.practitioner")
    page = practitioner.page
    where = f"window.location.hash = '#/referrals/{referral['id']}'"
    page.evaluate(where)
    page.wait_for_selector("#triage-form")
    released: list[Any] = []
    page.route("**/api/v1/referrals/queue*", lambda route: released.append(route))
    page.evaluate("window.location.hash = '#/queue'")
    page.wait_for_selector("#main[aria-busy]", state="attached")  # the queue is loading
    page.evaluate(where)
    page.wait_for_selector("#triage-form")
    assert released, "the queue's request is held"
    for route in released:
        route.continue_()
    page.unroute("**/api/v1/referrals/queue*")
    page.wait_for_timeout(1000)  # the queue's answer arrives and is drawn, out of sight
    assert page.locator("#triage-form").is_visible()
    assert page.locator("[data-queue-ready]").count() == 0
    no_problems(practitioner)
    practitioner.close()


def triage_by_api(session: Any, hub: Hub, referral_id: str, rag: str = "amber") -> None:
    """Triage with the browser's own session (its cookie and the anti-CSRF header)."""
    request = session.context.request
    read = request.get(f"{hub.base_url}/api/v1/referrals/{referral_id}")
    done = request.post(f"{hub.base_url}/api/v1/referrals/{referral_id}/triage",
                        data={"rag": rag, "rationale": "screened"},
                        headers={"x-mash-csrf": "1", "if-match": read.headers["etag"]})
    assert done.ok, done.text()


def test_a_decision_sent_after_a_manager_decided_is_explained_and_its_text_kept(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    """The lost decision: a practitioner sends "Early help" with a reason after a manager
    has decided. The page says what happened, shows the manager's decision, and keeps the
    practitioner's choice and words (it used to throw and drop them)."""
    referral = hub.submit(external_reference="lost-decision")
    practitioner = open_session(browser, hub, "mash.practitioner")
    manager = open_session(browser, hub, "mash.manager")
    triage_by_api(manager, hub, referral["id"])
    for session in (practitioner, manager):
        session.page.goto(f"/#/referrals/{referral['id']}")
        session.page.wait_for_selector("#decision-form")

    manager.page.check("#decision-form label:has-text('No further action')")
    manager.page.fill("#d-rationale", "Manager: already known to early help; no new concern.")
    manager.page.click("button:has-text('Record the decision')")
    manager.page.wait_for_selector("text=Decision recorded: No further action.")

    page = practitioner.page
    page.check("#decision-form label:has-text('Early help')")
    typed = "Practitioner: the family asked for help with the children's routines."
    page.fill("#d-rationale", typed)
    page.click("button:has-text('Record the decision')")
    conflict = page.wait_for_selector(".conflict")
    text = conflict.inner_text()
    assert "yours was not saved" in text
    assert "Decision: No further action, by Morgan Hale" in text
    assert "Your choice" not in text and "Outcome: Early help" in text
    assert page.input_value("#unsent textarea") == typed
    assert page.evaluate("document.activeElement.classList.contains('conflict')")
    # The record shows the manager's decision; nothing was recorded as the practitioner's.
    decision = page.locator("section[aria-labelledby='decision-title']").inner_text()
    assert "No further action" in decision and "Early help" not in decision
    check_page(page, artifacts, "referral-lost-decision")
    for session in (practitioner, manager):
        no_problems(session)
        session.close()
