"""Pattern alerts in the browser: the alerts queue, an alert's evidence (children,
referrals, how the adult was recognised) as tables, and a dismissal with a reason; axe
on every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.browser import check_page, no_problems, open_session
from tests.e2e.conftest import Hub


def child(given: str, family: str, born: str, postcode: str) -> dict[str, Any]:
    return {"role": "child", "given_name": given, "family_name": family,
            "date_of_birth": born, "sex": "F",
            "address": {"line1": "1 Alert Street", "town": "Northshire", "postcode": postcode}}


ADULT = {"role": "adult_of_concern", "given_name": "Daniel", "family_name": "Alertcase",
         "date_of_birth": "1988-03-14", "sex": "M"}


def test_an_alert_s_evidence_is_laid_out_and_dismissed_with_a_reason(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    car = [{"kind": "vehicle", "value": "AL12 ERT"}]
    first = hub.submit(external_reference="alert-1", contexts=car,
                       subjects=[child("Ava", "Northfield", "2010-02-11", "S60 1AA"), ADULT])
    second = hub.submit(external_reference="alert-2",
                        contexts=[{"kind": "vehicle", "value": "al12ert"}],
                        subjects=[child("Beth", "Southgate", "2009-07-23", "S61 2BB"),
                                  {**ADULT, "given_name": "Danny"}])
    staff = open_session(browser, hub, "mash.practitioner")
    page = staff.page
    page.click("nav >> text=Alerts")
    page.wait_for_selector("#alerts a:has-text('AL12ERT')")
    assert "The same adult of concern" in page.locator("#alerts").inner_text()
    check_page(page, artifacts, "alerts")

    page.click("#alerts a:has-text('AL12ERT')")
    page.wait_for_selector("#alert-children")
    children = page.locator("#alert-children tbody").inner_text()
    assert "Ava Northfield" in children and "Beth Southgate" in children
    referrals = page.locator("#alert-referrals tbody").inner_text()
    assert first["reference"] in referrals and second["reference"] in referrals
    assert "2 referrals about 2 different children" in page.locator("#alert-summary").inner_text()
    check_page(page, artifacts, "alert")

    page.click("#dismiss-alert")
    page.wait_for_selector("text=Enter a reason")
    page.fill("#alert-reason", "a taxi firm's car, checked with the police")
    page.click("#dismiss-alert")
    page.wait_for_selector("text=Alert dismissed.")
    assert "a taxi firm's car" in page.locator("main").inner_text()
    check_page(page, artifacts, "alert-dismissed")

    page.goto("/#/alerts")
    page.wait_for_selector("#alerts")
    page.wait_for_selector("#alerts a:has-text('The same adult of concern')")
    page.click("#alerts a:has-text('The same adult of concern')")
    page.wait_for_selector("#alert-adult")
    assert "Matched on details" in page.locator("#alert-adult").inner_text() or \
        "Same identifier" in page.locator("#alert-adult").inner_text()
    check_page(page, artifacts, "alert-adult")
    no_problems(staff)
    staff.close()
