"""The web client is served with the same security headers by nginx and by `mash up`,
and web/ holds nothing a strict Content-Security-Policy would block."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from mash.web import WEB_DIR, WEB_HEADERS, WebClient
from tests.unit.gateway_config import CONFIG, parse

INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def nginx_web_headers() -> dict[str, str]:
    server = parse(CONFIG.read_text()).one("http").one("server")
    root = next(loc for loc in server.all("location") if loc.args == ["/"])
    headers = {d.args[0]: d.args[1] for d in root.all("add_header")}
    assert all(d.args[-1] == "always" for d in root.all("add_header"))
    return headers


def test_nginx_sends_the_web_headers_of_the_in_process_gateway() -> None:
    headers = nginx_web_headers()
    assert headers.pop("X-Request-ID") == "$mash_request_id"
    assert headers == WEB_HEADERS


def test_the_policy_allows_no_inline_script_or_style_and_no_framing() -> None:
    policy = dict(part.strip().split(" ", 1) for part in
                  WEB_HEADERS["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in WEB_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize("page", sorted(p.name for p in WEB_DIR.glob("*.html")))
def test_pages_have_no_inline_script_style_or_event_handler(page: str) -> None:
    html = (WEB_DIR / page).read_text()
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)
    assert not INLINE_HANDLER.search(html)


def test_scripts_never_write_html_or_keep_tokens_in_storage() -> None:
    scripts = list(Path(WEB_DIR).rglob("*.js"))
    assert scripts
    for script in scripts:
        code = script.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                          "localStorage", "sessionStorage", "eval(", "new Function"):
            assert forbidden not in code, f"{script.name} uses {forbidden}"


async def test_the_gateway_serves_the_client_with_the_headers() -> None:
    transport = httpx.ASGITransport(app=WebClient())
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        page = await client.get("/")
        script = await client.get("/js/app.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    for name, value in WEB_HEADERS.items():
        assert page.headers[name] == value
        assert script.headers[name] == value
