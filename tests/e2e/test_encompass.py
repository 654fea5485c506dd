"""Operation Encompass in the browser: a school's designated safeguarding lead finds the
police notification in the school's inbox, reads the incident and the child's voice, marks
it read, and the board counts the read; axe on both pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.bodies import referral_body
from tests.e2e.browser import check_page, no_problems, open_session
from tests.e2e.conftest import Hub


def test_the_schools_lead_reads_a_notification_marks_it_read_and_the_board_counts_it(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    pupil = {**referral_body()["subjects"][0], "school_urn": "999001",
             "present_at_incident": True, "voice": "said she hid upstairs"}
    notice = hub.submit(external_reference="encompass-inbox", subjects=[pupil],
                        incident={"occurred_at": "2026-12-01T21:40:00+00:00",
                                  "place": "the family home"})
    lead = open_session(browser, hub, "school.dsl")
    page = lead.page
    expect(page.locator("#nav")).to_contain_text("Operation Encompass")
    page.goto("/#/encompass")
    expect(page.get_by_role("heading", level=1)).to_have_text("Operation Encompass")
    row = page.locator("#encompass-notices tbody tr", has_text=notice["reference"])
    expect(row).to_contain_text("Not read")
    expect(row).to_contain_text("Amy Example")
    check_page(page, artifacts, "encompass-inbox")

    row.get_by_role("link", name=notice["reference"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Police notification {notice['reference']}")
    expect(page.locator("main")).to_contain_text("the family home")
    expect(page.locator("#encompass-pupils")).to_contain_text("said she hid upstairs")
    check_page(page, artifacts, "encompass-notice")
    page.get_by_role("button", name="Mark as read").click()
    expect(page.locator("#encompass-read-status")).to_contain_text("Read")
    expect(page.get_by_role("button", name="Mark as read")).to_have_count(0)

    page.goto("/#/encompass")
    expect(page.locator("#encompass-notices tbody tr", has_text=notice["reference"])
           ).not_to_contain_text("Not read")
    no_problems(lead)
    lead.close()

    police = open_session(browser, hub, "police.officer")  # not a school: no inbox offered
    expect(police.page.locator("#nav")).not_to_contain_text("Operation Encompass")
    police.close()

    board = open_session(browser, hub, "board.member")
    riverside = board.page.locator("#board-schools tbody tr",
                                   has_text="Riverside Academy (URN 999001)")
    expect(riverside).to_have_count(1)
    assert int(riverside.locator("td").nth(2).inner_text()) >= 1  # notices read
    board.close()
