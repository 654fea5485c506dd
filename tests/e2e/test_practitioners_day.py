"""The practitioner's day in the browser: two staff allocating one referral, a search
that finds a child's page, a case note, a strategy discussion, a manager's approval, every
page at 320 px without sideways scrolling, and a referral printed on at most two A4 pages.

With MASH_DOCS_SCREENSHOTS=1 the README's screenshots (docs/screenshots/*.png) are taken
again: `MASH_DOCS_SCREENSHOTS=1 CI=true pytest tests/e2e/test_practitioners_day.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.browser import check_page, no_problems, open_session
from tests.e2e.conftest import Hub

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def doc_screenshot(page: Any, name: str) -> None:
    """The README's screenshot of this page, when asked for (MASH_DOCS_SCREENSHOTS=1)."""
    if os.environ.get("MASH_DOCS_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        page.evaluate("""() => { window.scrollTo(0, 0);
            for (const el of document.querySelectorAll('.referral-actions')) el.scrollTop = 0; }""")
        page.screenshot(path=str(DOCS / f"{name}.png"))


def triage(session: Any, hub: Hub, referral_id: str, rag: str = "amber") -> None:
    """Triage with the browser's own session (its cookie and the anti-CSRF header)."""
    request = session.context.request
    read = request.get(f"{hub.base_url}/api/v1/referrals/{referral_id}")
    done = request.post(f"{hub.base_url}/api/v1/referrals/{referral_id}/triage",
                        data={"rag": rag, "rationale": "screened"},
                        headers={"x-mash-csrf": "1", "if-match": read.headers["etag"]})
    assert done.ok, done.text()


def siblings(family: str, nhs_number: str) -> list[dict[str, Any]]:
    """Two children and an adult; each family its own address and birthdays, so that the
    person index never takes one test's children for another's."""
    seed = sum(map(ord, family))
    home = {"line1": f"{seed % 90 + 2} {family} Row", "town": "Northshire",
            "postcode": f"S{seed % 50 + 10} {seed % 9 + 1}BB"}
    return [
        {"role": "child", "given_name": "Amelia", "family_name": family,
         "date_of_birth": f"2013-{seed % 12 + 1:02d}-{seed % 27 + 1:02d}", "sex": "F",
         "nhs_number": nhs_number, "address": home},
        {"role": "child", "given_name": "Oscar", "family_name": family,
         "date_of_birth": f"2016-{seed % 11 + 1:02d}-{seed % 25 + 2:02d}", "sex": "M",
         "address": home},
        {"role": "adult_of_concern", "given_name": "Dale", "family_name": f"{family}son"},
    ]


def test_two_staff_allocating_one_referral_see_who_is_working_on_it(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    referral = hub.submit(external_reference="allocation",
                          subjects=siblings("Allocase", "9990001006"))
    practitioner = open_session(browser, hub, "mash.practitioner")
    manager = open_session(browser, hub, "mash.manager")
    for session in (practitioner, manager):
        session.page.goto(f"/#/referrals/{referral['id']}")
        session.page.wait_for_selector("#assign-form")

    # The banner names the children with their age, date of birth and NHS number.
    banner = practitioner.page.locator(".person-banner").inner_text()
    assert "Amelia Allocase" in banner and "born " in banner and "years old" in banner
    assert "NHS 999 000 1006" in banner and "Oscar Allocase" in banner
    assert "Dale Allocaseson" not in banner  # the children, not the adult

    page = practitioner.page
    page.click("#assign-me")
    page.wait_for_selector("main >> text=Allocated to you.")
    assert page.locator("#assignee-name").inner_text() == "You"
    assert page.locator(".assignee-warning").count() == 0

    # The manager's page, open all along, says someone changed it, then who has it.
    other = manager.page
    other.clock.fast_forward(31_000)
    expect(other.locator("#watch-notice")).to_contain_text(
        "Priya Shah (MASH social worker) changed this referral while you were on this page")
    other.click("#show-changes")
    expect(other.locator(".assignee-warning")).to_contain_text(
        "Priya Shah (MASH social worker) is working on this referral")
    check_page(other, artifacts, "referral-allocated-elsewhere")

    # My referrals and unallocated, in the queue.
    page.goto("/#/queue?assignee=me")
    row = page.wait_for_selector(f"tr.queue-row:has-text('{referral['reference']}')")
    assert "You" in row.inner_text() and "Amelia Allocase" in row.inner_text()
    assert page.input_value("#filter-assignee") == "me"
    check_page(page, artifacts, "queue-mine")
    other.goto("/#/queue?assignee=none")
    other.wait_for_selector("[data-queue-ready]")
    assert other.locator(f"tr.queue-row:has-text('{referral['reference']}')").count() == 0
    other.goto("/#/queue")
    row = other.wait_for_selector(f"tr.queue-row:has-text('{referral['reference']}')")
    assert "Priya Shah" in row.inner_text()
    assert re.search(r"[\d,]+ open referrals?,", other.locator("#queue-counts").inner_text())

    # The manager takes it over; the practitioner's stale page is told, not overwritten.
    other.goto(f"/#/referrals/{referral['id']}")
    other.click("#assign-me")
    other.wait_for_selector("main >> text=Allocated to you.")
    page.goto(f"/#/referrals/{referral['id']}")
    expect(page.locator(".assignee-warning")).to_contain_text("Morgan Hale")
    for session in (practitioner, manager):
        no_problems(session)
        session.close()


def test_a_search_with_a_misspelt_name_leads_to_the_childs_page(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    first = hub.submit(external_reference="search-1", subjects=siblings("Searchcase", "9990001014"))
    second = hub.submit("northshire-health-system", source="3E", external_reference="search-2",
                        subjects=siblings("Searchcase", "9990001014")[:1])
    staff = open_session(browser, hub, "mash.practitioner")
    page = staff.page
    page.goto("/#/queue")
    page.wait_for_selector("[data-queue-ready]")
    page.fill("#search-q", "Amelia Serchcase")
    page.click("#search-submit")
    result = page.wait_for_selector("#people-results a:has-text('Amelia Searchcase')")
    assert "people found" in page.locator("#search-summary").inner_text().lower() or \
        "person found" in page.locator("#search-summary").inner_text()
    assert "999 000 1014" in page.locator("#people-results").inner_text()
    check_page(page, artifacts, "search")
    doc_screenshot(page, "search")

    # By NHS number and date of birth in the same box: the same child.
    born = siblings("Searchcase", "9990001014")[0]["date_of_birth"].split("-")
    page.fill("#search-q", f"999 000 1014 {born[2]}/{born[1]}/{born[0]}")
    page.click("#search-submit")
    page.wait_for_selector("#search-summary:has-text('NHS number')")
    result = page.wait_for_selector("#people-results a:has-text('Amelia Searchcase')")
    result.click()
    page.wait_for_selector("h1:has-text('Amelia Searchcase')")
    text = page.locator("main").inner_text()
    assert first["reference"] in text and second["reference"] in text
    assert "Northshire Hospitals" in text  # referrals across agencies
    assert "Oscar Searchcase" in page.locator("#household").inner_text()
    assert "999 000 1014" in text
    check_page(page, artifacts, "person")
    doc_screenshot(page, "person")

    # A wrong link is undone from the person's page, with a reason; it stays on record.
    card = page.locator(f".link-card:has(a:has-text('{second['reference']}'))")
    card.locator("summary").click()
    card.locator("textarea").fill("The hospital's record is of a cousin: a data entry error.")
    card.locator("button:has-text('Undo the link')").click()
    page.wait_for_selector("main >> text=Link undone")
    assert second["reference"] not in page.locator("#person-referrals").inner_text()
    undone = page.locator(".link-card:has-text('(undone)')").inner_text()
    assert "a data entry error" in undone and "Priya Shah" in undone

    # The household leads to the sibling's page, and back to a referral.
    page.click("#household a:has-text('Oscar Searchcase')")
    page.wait_for_selector("h1:has-text('Oscar Searchcase')")
    page.click(f"#person-referrals a:has-text('{first['reference']}')")
    page.wait_for_selector(f"h1:has-text('{first['reference']}')")
    no_problems(staff)
    staff.close()


def test_a_case_note_and_a_strategy_discussion_join_the_record(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    referral = hub.submit(external_reference="casework",
                          subjects=siblings("Notecase", "9990001022"))
    staff = open_session(browser, hub, "mash.practitioner")
    triage(staff, hub, referral["id"], "red")
    page = staff.page
    page.goto(f"/#/referrals/{referral['id']}")
    page.wait_for_selector("#note-form")

    page.click("#note-form button:has-text('Add the note')")
    summary = page.wait_for_selector("#note-form .error-summary")
    assert "Enter the note" in summary.inner_text()
    page.check("#note-form label:has-text('Phone call')")
    page.fill("#n-text", "Rang the school: Amelia was in today and seemed well.")
    before = page.evaluate("window.scrollY")
    page.click("#note-form button:has-text('Add the note')")
    page.wait_for_selector("main >> text=Phone call added to the chronology.")
    note = page.locator(".timeline__item--note").last.inner_text()
    assert "Phone call by Priya Shah" in note and "seemed well" in note
    assert page.input_value("#n-text") == ""
    assert abs(page.evaluate("window.scrollY") - before) < 400  # no jump to the top
    # Management oversight is a manager's: a practitioner is not offered it.
    assert page.locator("#note-form label:has-text('Management oversight')").count() == 0

    form = page.locator("#discussion-form")
    form.locator("#sd-attendees-0-name").fill("DS Kaur")
    form.locator("#sd-attendees-0-role").fill("Detective sergeant")
    form.locator("#sd-attendees-0-agency_id").select_option(label="Northshire Police")
    form.locator("#sd-attendees-1-name").fill("Priya Shah")
    form.locator("#sd-attendees-1-role").fill("Social worker")
    form.locator("#sd-attendees-1-agency_id").select_option(label="Northshire Council MASH")
    form.locator("label:has-text('Section 47 enquiry')").first.click()
    form.locator("#sd-reasons").fill("Disclosure at school; sibling also at risk.")
    form.locator("#sd-actions-0-text").fill("Joint visit to the family home")
    form.locator("#sd-actions-0-agency_id").select_option(label="Northshire Police")
    form.locator("#sd-actions-0-due_at").fill("2026-12-07T10:00")
    page.click("button:has-text('Record the strategy discussion')")
    page.wait_for_selector("main >> text=Strategy discussion recorded: Section 47 enquiry.")
    card = page.locator(".discussion").inner_text()
    assert "DS Kaur, Detective sergeant (Northshire Police)" in card
    assert "Joint visit to the family home" in card and "sibling also at risk" in card
    assert "recorded a strategy discussion" in page.locator(".timeline").inner_text()
    check_page(page, artifacts, "referral-casework")
    doc_screenshot(page, "referral")
    no_problems(staff)
    staff.close()


def test_a_manager_approves_one_decision_and_returns_another(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    approve = hub.submit(external_reference="approve",
                         subjects=siblings("Approvecase", "9990001030"))
    refuse = hub.submit(external_reference="refuse", subjects=siblings("Returncase", "9990001049"))
    practitioner = open_session(browser, hub, "mash.practitioner")
    page = practitioner.page
    for referral in (approve, refuse):
        triage(practitioner, hub, referral["id"], "red")
        page.goto(f"/#/referrals/{referral['id']}")
        page.check("#decision-form label:has-text('Strategy discussion (section 47)')")
        page.select_option("#d-need", "N1")  # asked for once the outcome leads to assessment
        page.fill("#d-rationale", "Reasonable cause to suspect significant harm.")
        page.click("button:has-text('Record the decision')")
        page.wait_for_selector(
            "text=Sent to a MASH manager for approval: Strategy discussion (section 47).")
        decision = page.locator("section[aria-labelledby='decision-title']").inner_text()
        assert "Waiting for a MASH manager's approval" in decision
        assert "Priya Shah" in decision

    manager = open_session(browser, hub, "mash.manager")
    other = manager.page
    other.click("nav >> text=Approvals")
    other.wait_for_selector(f"#approvals a:has-text('{approve['reference']}')")
    row = other.locator(f"tr:has-text('{approve['reference']}')").inner_text()
    assert "Strategy discussion (section 47)" in row and "Amelia Approvecase" in row
    check_page(other, artifacts, "approvals")
    doc_screenshot(other, "approvals")

    other.click(f"#approvals a:has-text('{approve['reference']}')")
    other.wait_for_selector("#approval-form")
    other.check("#approval-form label:has-text('Approve it')")
    other.click("button:has-text('Send your decision')")
    other.wait_for_selector("main >> text=Approved: Strategy discussion (section 47).")
    decision = other.locator("section[aria-labelledby='decision-title']").inner_text()
    assert "Approved by" in decision and "Morgan Hale" in decision

    other.goto(f"/#/referrals/{refuse['id']}")
    other.check("#approval-form label:has-text('Return it to the practitioner')")
    other.click("button:has-text('Send your decision')")
    summary = other.wait_for_selector("#approval-form .error-summary")
    assert "Enter a comment" in summary.inner_text()
    other.fill("#ap-comment", "Speak to the school first: this may be early help.")
    other.click("button:has-text('Send your decision')")
    other.wait_for_selector("main >> text=Returned to the practitioner with your comment.")
    assert "returned the proposed decision" in other.locator(".timeline").inner_text()

    page.goto(f"/#/referrals/{refuse['id']}")
    page.reload()  # the same address: load it again
    page.wait_for_selector("#decision-form")
    assert "Speak to the school first" in page.locator(".timeline").inner_text()
    for session in (practitioner, manager):
        no_problems(session)
        session.close()


def fits(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def too_wide(page: Any) -> list[str]:
    """The elements that stick out to the right, to say what to fix."""
    return list(page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right
            > document.documentElement.clientWidth + 0.5)
        .slice(0, 8).map((el) => el.tagName + '#' + el.id + '.' + el.className + ' '
            + Math.round(el.getBoundingClientRect().right))"""))


def test_every_page_reflows_at_320_px_without_sideways_scrolling(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    """WCAG 1.4.10: at 320 CSS pixels wide, one column and no horizontal scrolling."""
    referral = hub.submit(external_reference="reflow",
                          subjects=siblings("Reflowcase", "9990001057"))
    staff = open_session(browser, hub, "mash.manager")
    page = staff.page
    page.set_viewport_size({"width": 320, "height": 640})
    triage(staff, hub, referral["id"], "amber")
    person = staff.context.request.get(
        f"{hub.base_url}/api/v1/people", params={"nhs_number": "9990001057"}).json()["items"][0]
    pages = {
        "queue": ("/#/queue", "[data-queue-ready]"),
        "referral": (f"/#/referrals/{referral['id']}", "#decision-form"),
        "reviews": ("/#/match-reviews", "#reviews"),
        "search": ("/#/search?q=Amelia%20Reflowcase", "#search-summary"),
        "person": (f"/#/people/{person['id']}", "#household"),
        "approvals": ("/#/approvals", "#approvals"),
    }
    for name, (where, ready) in pages.items():
        page.goto(where)
        page.wait_for_selector(ready)
        assert fits(page), f"{name}: {too_wide(page)}"
        check_page(page, artifacts, f"reflow-{name}")
    no_problems(staff)
    staff.close()

    police = open_session(browser, hub, "police.officer")
    page = police.page
    page.set_viewport_size({"width": 320, "height": 640})
    for name, (where, ready) in {
        "partner-referrals": ("/#/our-referrals", "#our-referrals"),
        "partner-form": ("/#/refer", "#referral-form"),
        "partner-requests": ("/#/information-requests", "main h1"),
    }.items():
        page.goto(where)
        page.wait_for_selector(ready)
        assert fits(page), f"{name}: {too_wide(page)}"
        check_page(page, artifacts, f"reflow-{name}")
    no_problems(police)
    police.close()


def test_a_printed_referral_is_the_record_only_on_at_most_two_a4_pages(
    browser: Any, hub: Hub, artifacts: Path
) -> None:
    referral = hub.submit(external_reference="print", subjects=siblings("Printcase", "9990001065"))
    staff = open_session(browser, hub, "mash.practitioner")
    triage(staff, hub, referral["id"], "amber")
    page = staff.page
    page.goto(f"/#/referrals/{referral['id']}")
    page.wait_for_selector("#decision-form")
    page.emulate_media(media="print")
    hidden = page.evaluate("""() => [...document.querySelectorAll(
        'form, button, .countdown, nav, .search-box, .referral-actions, header')]
        .filter((el) => el.getClientRects().length > 0)
        .map((el) => el.tagName + '.' + el.className)""")
    assert hidden == [], hidden
    assert page.locator(".person-banner").is_visible()
    assert page.locator("text=The referrer's account").is_visible()
    marking = page.evaluate("""() => [...document.styleSheets].flatMap((sheet) =>
        [...sheet.cssRules]).filter((rule) => rule instanceof CSSMediaRule)
        .flatMap((rule) => [...rule.cssRules]).filter((rule) => rule instanceof CSSPageRule)
        .map((rule) => rule.cssText).join(' ')""")
    assert marking.count('"OFFICIAL-SENSITIVE"') == 2  # top and bottom of every page

    page.screenshot(path=str(artifacts / "referral-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts / "referral.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    assert 1 <= pages <= 2, f"{pages} A4 pages"
    no_problems(staff)
    staff.close()


def test_one_search_box_reads_names_dates_and_identifiers_and_errors_are_plain(
    browser: Any, hub: Hub
) -> None:
    """The box's words as the API's terms, and pydantic's wording as a person says it."""
    staff = open_session(browser, hub, "mash.practitioner")
    page = staff.page
    parsed = page.evaluate("""async () => {
        const { parseSearch } = await import('/js/pages/people.js');
        return ['Amelia Jones', '999 000 1014', 'amy 2/4/2012 s60 1aa', 'A123456789012 Jones',
                '2012-04-02'].map(parseSearch);
    }""")
    assert parsed == [
        {"q": "Amelia Jones"},
        {"nhs_number": "9990001014"},
        {"q": "amy", "date_of_birth": "2012-04-02", "postcode": "S60 1AA"},
        {"upn": "A123456789012", "q": "Jones"},
        {"date_of_birth": "2012-04-02"},
    ]
    said = page.evaluate("""async () => {
        const { plainMessage } = await import('/js/forms.js');
        return [
            plainMessage('List should have at least 1 item after validation, not 0', 'Concerns'),
            plainMessage('Field required', 'Reason for the decision'),
            plainMessage('String should have at most 2000 characters', 'Reason'),
            plainMessage('Value error, say why consent was not given', 'Why consent'),
            plainMessage('Input should be a valid date', null),
        ];
    }""")
    assert said == [
        "Concerns: choose at least one",
        "Enter reason for the decision",
        "Reason must be 2,000 characters or fewer",
        "Why consent: say why consent was not given",
        "The date must be a real date, for example 27 3 2012",
    ]
    no_problems(staff)
    staff.close()
