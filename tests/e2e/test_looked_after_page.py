"""A looked-after child placed out of area, on the referral page: the placement and the
child protection plan on the child's card and in the chronology."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.browser import check_page, no_problems, open_session
from tests.e2e.conftest import Hub


def test_the_placement_and_plan_are_on_the_childs_card_and_in_the_chronology(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    receipt = hub.submit(external_reference="placed-1", subjects=[{
        "role": "child", "given_name": "Rosa", "family_name": "Placedcase",
        "date_of_birth": "2011-05-06", "nhs_number": "9990000034",
        "looked_after": {"placing_la_code": "372", "host_la_code": "373",
                         "placed_at": "2026-01-15"},
        "child_protection_plan": "current"}])
    staff = open_session(browser, hub, "mash.practitioner")
    page = staff.page
    page.goto(f"/#/referrals/{receipt['id']}")
    card = page.wait_for_selector("section.card:has-text('Rosa Placedcase')")
    text = card.inner_text()
    assert "placed by local authority 372 in the area of local authority 373" in text
    assert "Subject to a plan now" in text
    chronology = page.locator("section[aria-labelledby='chronology-title']").inner_text()
    assert "a child is looked after, placed by local authority 372" in chronology
    check_page(page, artifacts, "referral-looked-after")
    no_problems(staff)
    staff.close()
