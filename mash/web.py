"""The web client's static files, served with the security headers of every page.

nginx sends the same headers in a deployment (deploy/nginx/mash.conf, location /);
tests/unit/test_web_headers.py checks the two agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# This repository's web/, or where an installation put it (the container image: MASH_WEB_DIR).
WEB_DIR = Path(os.environ.get("MASH_WEB_DIR") or Path(__file__).resolve().parent.parent / "web")

# No inline script or style anywhere in web/: scripts and styles come from our origin only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

WEB_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # No build step, so no hashed file names: revalidate every time (cheap: ETag, 304).
    "Cache-Control": "no-cache",
}


class WebClient:
    """StaticFiles for web/ (index.html at /), adding WEB_HEADERS to every answer."""

    def __init__(self, directory: Path = WEB_DIR) -> None:
        self.files: ASGIApp = StaticFiles(directory=directory, html=True)
        self.headers = [(k.lower().encode(), v.encode()) for k, v in WEB_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", [])
                        if k.lower() not in {name for name, _ in self.headers}]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.files(scope, receive, with_headers)
