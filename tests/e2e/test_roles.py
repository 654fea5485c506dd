"""Every role starts on a page of its own, and sees only its own pages in the navigation:
an auditor finds every read of one child and exports them; an administrator demotes a
user, who loses access at once. Each role's home page is checked with axe and (with
MASH_SCREENSHOTS set, see scripts/screenshots.sh) saved for the README."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import expect

from tests.e2e.browser import Session, check_page, no_problems, open_session
from tests.e2e.conftest import Hub
from tests.e2e.test_partners import home_screenshot, staff_api

HOMES = {
    "mash.practitioner": ("#/queue", ["Queue"]),
    "board.member": ("#/board", ["Board report"]),
    "auditor": ("#/audit", ["Audit log", "Board report", "API reference"]),
    "admin": ("#/admin", ["Administration", "API reference"]),
    "police.officer": ("#/home", ["Home", "Information requests", "Make a referral",
                                  "Your referrals"]),
}


def nav(session: Session) -> list[str]:
    return [t.strip() for t in session.page.locator("#nav a").all_inner_texts()]


def test_every_role_starts_on_a_useful_page_with_only_its_own_navigation(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    for username, (home, items) in HOMES.items():
        session = open_session(browser, hub, username)
        page = session.page
        page.goto("/")
        expect(page).to_have_url(re.compile(re.escape(home)))
        page.wait_for_selector("main h1")
        assert nav(session)[:len(items)] == items, (username, nav(session))
        if "API reference" in items:
            assert page.locator("#nav a:has-text('API reference')").get_attribute(
                "href") == "/docs"
        assert page.locator("footer a[href='/docs']").count() == 1
        role = username.split(".")[0] if username != "police.officer" else "police"
        home_screenshot(page, artifacts, role)
        no_problems(session)
        session.close()


def test_an_auditor_finds_every_read_of_one_child_and_exports_them(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    made = hub.submit(external_reference="e2e-audit", subjects=[{
        "role": "child", "given_name": "Quill", "family_name": "Auditchild",
        "date_of_birth": "2014-07-19", "address": {"line1": "9 Test Road",
                                                   "postcode": "ZZ99 3AA"}}])
    staff = open_session(browser, hub, "mash.practitioner")
    full = staff_api(staff, hub, "GET", f"/api/v1/referrals/{made['id']}").json()
    person_id = full["subjects"][0]["person_id"]
    assert person_id
    staff_api(staff, hub, "GET", f"/api/v1/people/{person_id}")
    staff.close()

    auditor = open_session(browser, hub, "auditor")
    page = auditor.page
    page.goto("/#/audit")
    expect(page.locator("#chain-status")).to_contain_text("The chain holds")
    page.fill("#q-person_id", person_id)
    page.fill("#q-action", "read")
    page.click("button:has-text('Show entries')")
    expect(page).to_have_url(re.compile(r"person_id="))
    rows = page.locator("tr.audit-row")
    expect(rows).to_have_count(2)
    text = page.locator("#audit-entries").inner_text()
    assert made["id"] in text and person_id in text
    assert "triage" in text, "each read says why (its purpose)"
    check_page(page, artifacts, "auditor-person")
    with page.expect_download() as download:
        page.click("#export")
    content = Path(download.value.path()).read_text()
    assert content.splitlines()[0].startswith("seq,at,actor")
    assert made["id"] in content and person_id in content and len(content.splitlines()) == 3
    exports = auditor.context.request.get(f"{hub.base_url}/api/v1/audit?action=export")
    assert exports.ok and exports.json()["items"][0]["detail"]["person_id"] == person_id
    no_problems(auditor)
    auditor.close()


def test_an_admin_demotes_a_user_who_loses_access_at_once(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    admin = open_session(browser, hub, "admin")
    # The administrator creates the user; the first password and secret are shown once.
    admin.page.goto("/#/admin")
    admin.page.click("summary:has-text('Create a user')")
    admin.page.fill("#u-username", "e2e.demoted")
    admin.page.fill("#u-display_name", "Dee Moted (MASH social worker)")
    admin.page.select_option("#u-agency_id", label="Northshire Council MASH")
    admin.page.select_option("#u-roles", "mash_practitioner")
    admin.page.click("button:has-text('Create the user')")
    admin.page.wait_for_selector("#secret-once")
    shown = admin.page.locator("#secret-once code.secret").all_inner_texts()
    created = {"initial_password": shown[0], "totp_secret": shown[1]}
    assert shown[2].startswith("otpauth://totp/")
    check_page(admin.page, artifacts, "admin-user-created")
    admin.page.reload()
    expect(admin.page.locator("#secret-once")).to_have_count(0)  # shown once only

    context = browser.new_context(base_url=hub.base_url)
    page = context.new_page()
    page.clock.install(time=hub.now())
    page.goto("/#/sign-in")
    page.fill("#f-username", "e2e.demoted")
    page.fill("#f-password", created["initial_password"])
    page.fill("#f-otp", pyotp.TOTP(created["totp_secret"]).now())
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(re.compile(r"#/queue"))
    assert context.request.get(f"{hub.base_url}/api/v1/referrals/queue").ok

    row = admin.page.locator("tr.user-row[data-username='e2e.demoted']")
    row.locator("select").select_option("board_member")
    row.locator("button:has-text('Change role')").click()
    expect(admin.page.locator("#admin-notice")).to_contain_text("e2e.demoted is now board member")
    expect(admin.page.locator("tr.user-row[data-username='e2e.demoted']")).to_contain_text(
        "Board member")
    check_page(admin.page, artifacts, "admin-demoted")

    # At once: the demoted user's session no longer works, and the page asks them to sign in.
    assert context.request.get(f"{hub.base_url}/api/v1/referrals/queue").status == 401
    page.reload()
    expect(page).to_have_url(re.compile(r"#/sign-in"))
    context.close()
    no_problems(admin)
    admin.close()


def dead_letter(hub: Hub, subscription_id: str, agency_id: str) -> str:
    """A delivery that ran out of retries, as the dispatcher leaves one (written straight
    into the running hub's notify database: waiting out a real retry schedule takes days)."""
    delivery_id = str(uuid.uuid4())
    created = hub.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(hub.data_dir / "notify.db") as db:
        db.execute(
            "INSERT INTO deliveries (id, event_id, event_type, status, created_at, "
            "subscription_id, agency_id, channel, payload, attempt_count, last_status_code, "
            "last_error, dead_reason) VALUES (?, ?, 'mash.referral.decided', 'dead', ?, ?, ?, "
            "'email', '{}', 8, NULL, 'mailbox refused', 'retries_exhausted')",
            (delivery_id, str(uuid.uuid4()), created, subscription_id, agency_id))
    return delivery_id


def test_an_admin_replays_a_dead_lettered_delivery(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    admin = open_session(browser, hub, "admin")
    police = hub.agency_id("police")
    subscription = staff_api(admin, hub, "POST", "/api/v1/subscriptions", data={
        "channel": "email", "address": "duty@police.example", "agency_id": police,
        "event_types": ["mash.referral.decided"]}).json()
    delivery_id = dead_letter(hub, subscription["id"], police)

    page = admin.page
    page.goto("/#/admin")
    page.reload()
    row = page.locator(f"tr.dead-row[data-delivery-id='{delivery_id}']")
    expect(row).to_contain_text("retries_exhausted")
    expect(page.locator("#subscriptions")).to_contain_text("duty@police.example")
    # A school is added with its URN and safeguarding lead.
    page.click("summary:has-text('Add an agency')")
    page.fill("#g-name", "Hillside Primary School")
    page.select_option("#g-kind", "school")
    page.fill("#g-school_urn", "999002")
    page.fill("#g-safeguarding_lead_email", "dsl@hillside.example")
    page.click("button:has-text('Add the agency')")
    expect(page.locator("#admin-notice")).to_contain_text("Hillside Primary School added")
    expect(page.locator("#agencies tr:has-text('Hillside')")).to_contain_text("999002")
    expect(page.locator("#admin-changes")).to_contain_text("create agency")
    check_page(page, artifacts, "admin-dead-deliveries")
    row.locator("button:has-text('Replay')").click()
    expect(page.locator("#admin-notice")).to_contain_text("replayed")
    expect(row).to_have_count(0)
    dead = staff_api(admin, hub, "GET", "/api/v1/deliveries?status=dead").json()["items"]
    assert delivery_id not in {d["id"] for d in dead}
    no_problems(admin)
    admin.close()
