"""The MASH queue in the browser: most urgent first, filters in the address, a refresh
that keeps the practitioner's place, and overdue referrals impossible to miss."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import check_page, no_problems, open_session
from tests.e2e.conftest import Hub, running_hub
from tests.helpers import AWKWARD_INSTANTS

SOURCE = "3C"  # only this module's referrals come from a school nurse (the health system)
HEALTH = "northshire-health-system"


def triage(session: Any, hub: Hub, referral_id: str, rag: str) -> None:
    """Triage through the API with the browser's own session (cookie + anti-CSRF header)."""
    request = session.context.request
    read = request.get(f"{hub.base_url}/api/v1/referrals/{referral_id}")
    assert read.ok, read.text()
    done = request.post(f"{hub.base_url}/api/v1/referrals/{referral_id}/triage",
                        data={"rag": rag, "rationale": "screened"},
                        headers={"x-mash-csrf": "1", "if-match": read.headers["etag"]})
    assert done.ok, done.text()


def references(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("a.queue-link").all_inner_texts()]


@pytest.fixture(params=list(AWKWARD_INSTANTS))
def queue_hub(request: pytest.FixtureRequest, hub: Hub,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The suite's hub (a Friday evening), or one of its own at another awkward instant."""
    if request.param == "friday_evening":
        yield hub
        return
    with running_hub(tmp_path_factory.mktemp(request.param),
                     AWKWARD_INSTANTS[request.param]) as own:
        yield own


def test_the_queue_shows_the_most_urgent_first_and_keeps_its_place_on_refresh(
    browser: Any, queue_hub: Hub, artifacts: Path
) -> None:
    hub = queue_hub
    made = {name: hub.submit(HEALTH, source=SOURCE, external_reference=f"queue-{name}",
                             immediate_risk=name == "at_risk")
            for name in ("unrated", "green", "amber", "red", "at_risk")}
    staff = open_session(browser, hub, "mash.manager")
    for name in ("green", "amber", "red"):
        triage(staff, hub, made[name]["id"], name)
    page = staff.page
    page.goto(f"/#/queue?source={SOURCE}")
    page.wait_for_selector("[data-queue-ready='5']")
    expected = [made[n]["reference"] for n in ("at_risk", "red", "amber", "green", "unrated")]
    assert references(page) == expected
    first_row = page.locator("tr.queue-row").first.inner_text()
    assert "Immediate risk" in first_row and "Red" in first_row
    assert "left" in first_row  # the live countdown to the decision
    check_page(page, artifacts, "queue")

    # The filters are in the address: a reload keeps them.
    page.reload()
    page.wait_for_selector("[data-queue-ready='5']")
    assert page.input_value("#filter-source") == SOURCE
    page.select_option("#filter-rag", "red")
    page.click("button:has-text('Apply filters')")
    expect(page.locator("a.queue-link")).to_have_count(2)
    assert "rag=red" in page.evaluate("location.hash")
    page.select_option("#filter-rag", "")
    page.click("button:has-text('Apply filters')")
    page.wait_for_selector("[data-queue-ready='5']")

    # A new referral arrives; the 30-second refresh shows it without moving focus.
    page.focus(f"a.queue-link:has-text('{made['amber']['reference']}')")
    arrived = hub.submit(HEALTH, source=SOURCE, external_reference="queue-new", immediate_risk=True)
    page.clock.fast_forward(31_000)
    page.wait_for_selector(f"a.queue-link:has-text('{arrived['reference']}')")
    assert page.evaluate("document.activeElement.textContent") == made["amber"]["reference"]
    expect(page.locator("#announcer")).to_contain_text("1 new referral")

    # Updates can be paused (WCAG 2.2.2): then nothing changes by itself.
    page.click("#pause-updates")
    held = hub.submit(HEALTH, source=SOURCE, external_reference="queue-held")
    page.clock.fast_forward(31_000)
    expect(page.locator("#queue-updated")).to_contain_text("Automatic updates are paused")
    assert page.locator(f"a.queue-link:has-text('{held['reference']}')").count() == 0
    page.click("#pause-updates")
    page.click("button:has-text('Refresh now')")
    page.wait_for_selector(f"a.queue-link:has-text('{held['reference']}')")

    # Into a referral and back: the filters and the row are where the practitioner left.
    page.click(f"a.queue-link:has-text('{made['green']['reference']}')")
    page.wait_for_selector(f"h1:has-text('{made['green']['reference']}')")
    page.click("a:has-text('Back to the queue')")
    page.wait_for_selector("[data-queue-ready='7']")
    page.clock.run_for(100)
    assert page.evaluate("document.activeElement.textContent") == made["green"]["reference"]
    assert f"source={SOURCE}" in page.evaluate("location.hash")

    # Once the last decision deadline has passed (after a weekend or a bank holiday, on a
    # Friday evening), each row says "Overdue", not only in colour.
    queue = staff.context.request.get(f"{hub.base_url}/api/v1/referrals/queue",
                                      params={"source": SOURCE})
    last_due = max(datetime.fromisoformat(item["decision_due_at"])
                   for item in queue.json()["items"])
    assert last_due > hub.now(), "nothing is overdue yet"
    page.clock.fast_forward(int((last_due - hub.now()).total_seconds() * 1000) + 60_000)
    expect(page.locator("tr.row--overdue")).to_have_count(7)
    for row in page.locator("tr.queue-row").all_inner_texts():
        assert "OVERDUE" in row.upper()
    expect(page.locator("#queue-counts")).to_contain_text("7 overdue")
    check_page(page, artifacts, "queue-overdue")
    no_problems(staff)
    staff.close()


def test_the_timeliness_page_shows_todays_figures(browser: Any, hub: Hub,
                                                  artifacts: Path) -> None:
    hub.submit(HEALTH, source=SOURCE, external_reference="timeliness")
    manager = open_session(browser, hub, "mash.manager")
    page = manager.page
    page.click("nav >> text=Timeliness")
    page.wait_for_selector("#today-received")
    assert int(page.locator("#today-received .stat__value").inner_text()) >= 1
    assert int(page.locator("#open .stat__value").inner_text()) >= 1
    check_page(page, artifacts, "timeliness")
    no_problems(manager)
    manager.close()
