"""A CSE screening in the browser: the hub's tool as a form, its level computed as the
practitioner ticks, saved to the referral (a high level makes it red), and the child's
person banner warning of it; axe on the referral page with the form."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.browser import Session, check_page, no_problems, open_session
from tests.e2e.conftest import Hub


def on_a_new_referral(browser: Any, hub: Hub, reference: str) -> Session:
    """A practitioner on the page of a new police referral (not domestic abuse)."""
    referral = hub.submit(external_reference=reference, concerns=["10A"])
    worker = open_session(browser, hub, "mash.practitioner")
    worker.page.goto(f"/#/referrals/{referral['id']}")
    return worker


def test_a_practitioner_screens_a_referral_and_the_level_shows(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    worker = on_a_new_referral(browser, hub, "cse-screening")
    page = worker.page
    form = page.locator("#screening-form")
    expect(form).to_contain_text("Child sexual exploitation screening")
    expect(page.locator("#screening-computed")).to_have_text("Computed level: low (score 0)")
    form.get_by_label("A relationship with a significantly older person").check()
    form.get_by_label("Picked up or dropped off in cars by unknown adults").check()
    expect(page.locator("#screening-computed")).to_have_text("Computed level: medium (score 7)")
    form.get_by_label("Has disclosed sexual abuse or exploitation").check()
    expect(page.locator("#screening-computed")).to_have_text("Computed level: high (score 19)")
    check_page(page, artifacts, "referral-screening")

    # Another level needs a reason: refused in the page, nothing sent.
    form.get_by_label("Level to record").select_option("medium")
    form.get_by_role("button", name="Save the screening").click()
    expect(form.locator(".error-message")).to_contain_text("Give the reason")
    form.get_by_label("Level to record").select_option("")
    form.get_by_role("button", name="Save the screening").click()
    expect(page.locator("#cse-level")).to_have_text("CSE screening: high risk")
    expect(page.locator("h1 + p.body")).to_contain_text("Red")  # a high level makes it red

    person_id = page.locator("a[href^='#/people/']").first.get_attribute("href")
    assert person_id is not None
    page.goto(f"/{person_id}")
    expect(page.locator(".person-banner__flags")).to_contain_text("CSE screening: high risk")
    no_problems(worker)
    worker.close()


def test_a_practitioner_records_a_missing_episode_on_the_childs_page(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    worker = on_a_new_referral(browser, hub, "missing-episode")
    page = worker.page
    person = page.locator("a[href^='#/people/']").first.get_attribute("href")
    assert person is not None
    page.goto(f"/{person}")
    section = page.locator("#missing")
    expect(section).to_contain_text("No missing episodes recorded.")
    went = hub.now() - timedelta(days=2)
    section.get_by_label("When they went missing").fill(went.strftime("%Y-%m-%dT%H:%M"))
    section.get_by_label("When they returned").fill(
        (went + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M"))
    section.get_by_label("Where they were found").fill("Bus station, Northshire")
    section.get_by_role("button", name="Record the episode").click()
    episode = page.locator("#missing-episodes li")
    expect(episode).to_have_count(1)
    expect(episode).to_contain_text("found at bus station, northshire")  # kept normalised
    expect(episode).to_contain_text("Return interview due")
    check_page(page, artifacts, "person-missing")
    no_problems(worker)
    worker.close()
