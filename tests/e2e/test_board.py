"""The board report in the browser: charts with their tables, sortable partner tables,
every school by name, the CSV, a page that prints as a board paper; axe on each view."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.bodies import referral_body
from tests.e2e.browser import check_page, no_problems, open_session
from tests.e2e.conftest import Hub


def test_a_board_member_reads_the_report_sorts_it_downloads_it_and_prints_it(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    pupil = {**referral_body()["subjects"][0], "school_urn": "999001"}
    hub.submit(external_reference="board-encompass", subjects=[pupil])
    board = open_session(browser, hub, "board.member")
    page = board.page
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Board report: the front door")
    expect(page.locator("#nav")).to_contain_text("Board report")
    expect(page.locator("#nav")).not_to_contain_text("Queue")
    check_page(page, artifacts, "board")

    referrals = page.locator("#board-referrals .stat__value")
    assert int(referrals.inner_text()) >= 1
    chart = page.locator("#chart-referrals svg[role=img]")
    expect(chart).to_have_attribute("aria-describedby", "chart-referrals-table")
    expect(page.locator("#chart-referrals-table tbody tr")).not_to_have_count(0)
    riverside = page.locator("#board-schools tbody tr", has_text="Riverside Academy (URN 999001)")
    expect(riverside).to_have_count(1)
    assert int(riverside.locator("td").nth(1).inner_text()) >= 1  # its Encompass notices

    header = page.locator("#board-agencies thead th").nth(1)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    made = [int(t) for t in page.locator("#board-agencies tbody tr td:nth-child(2)")
            .all_inner_texts()]
    assert made == sorted(made, reverse=True)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")

    page.select_option("#board-interval", "week")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"interval=week"))
    expect(page.locator("#chart-referrals-table thead")).to_contain_text("Week")
    check_page(page, artifacts, "board-weekly")

    with page.expect_download() as download:
        page.locator("#board-csv").click()
    saved = Path(download.value.path())
    assert saved.read_text().splitlines()[0] == "section,starts_on,ends_on,key,label,figure,value"

    page.emulate_media(media="print")
    expect(page.locator(".board-range")).to_be_hidden()
    expect(page.locator("#board-csv")).to_be_hidden()
    expect(page.locator("#board-agencies")).to_be_visible()
    page.emulate_media(media="screen")
    no_problems(board)
    board.close()


def test_practitioners_have_no_board_report_and_managers_do(browser: Any, hub: Hub) -> None:
    practitioner = open_session(browser, hub, "mash.practitioner")
    expect(practitioner.page.locator("#nav")).not_to_contain_text("Board report")
    practitioner.page.goto("/#/board")
    expect(practitioner.page.get_by_role("heading", level=1)).to_have_text(
        "You cannot see this page")
    practitioner.close()
    manager = open_session(browser, hub, "mash.manager")
    manager.page.goto("/#/board")
    expect(manager.page.get_by_role("heading", level=1)).to_have_text(
        "Board report: the front door")
    expect(manager.page.locator("#nav")).to_contain_text("Board report")
    no_problems(manager)
    manager.close()
