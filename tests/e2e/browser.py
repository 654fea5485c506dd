"""Driving the web client as its users do: sign in, look, check accessibility."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Hub

SERIOUS = {"serious", "critical"}


@dataclass
class Session:
    """One user's browser context and page, with what the page reported."""

    context: Any
    page: Any
    username: str
    problems: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.context.close()


def open_session(browser: Any, hub: Hub, username: str | None = None) -> Session:
    """A fresh browser context (its own cookies) on the hub, signed in as ``username``.

    A user signs in with the form once per run; later contexts start with that session's
    cookie (a TOTP code works once, so signing in again may mean waiting for a new one).
    """
    state = hub.browser_states.get(username or "")
    context = browser.new_context(base_url=hub.base_url, viewport={"width": 1280, "height": 900},
                                  storage_state=state)
    page = context.new_page()
    page.clock.install(time=hub.now())  # the page's clock is the hub's
    session = Session(context, page, username or "")

    def on_console(message: Any) -> None:
        # A refused request shows as "Failed to load resource": the page handles those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            session.problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: session.problems.append(str(error)))
    if username and state:
        page.goto("/")
        page.wait_for_selector("#account .account__name")
    elif username:
        sign_in(page, hub, username)
        hub.browser_states[username] = context.storage_state()
    return session


def sign_in(page: Any, hub: Hub, username: str, *, prefix: str = "f") -> None:
    """Fill in the sign-in form (the page's, or with prefix "s" the session dialog's)."""
    if prefix == "f":
        page.goto("/#/sign-in")
    user = hub.user(username)
    page.fill(f"#{prefix}-username", username)
    page.fill(f"#{prefix}-password", user["password"])
    page.fill(f"#{prefix}-otp", hub.fresh_otp(username))
    page.click(f"#{prefix}-otp >> xpath=ancestor::form//button[@type='submit']")
    if prefix == "f":
        page.wait_for_selector("#account .account__name")


def check_page(page: Any, artifacts: Path, name: str) -> list[dict[str, Any]]:
    """Save a full-page screenshot and assert axe finds no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    results = Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    serious = [f"{v['id']} ({v['impact']}): {v['help']} at "
               f"{[n['target'] for n in v['nodes']][:3]}"
               for v in violations if v.get("impact") in SERIOUS]
    assert not serious, f"{name}: " + "; ".join(serious)
    return violations


def no_problems(session: Session) -> None:
    """The page logged no script error and no Content-Security-Policy violation."""
    assert not session.problems, session.problems
