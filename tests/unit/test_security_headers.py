"""Headers that keep personal data out of caches and browsers honest, and URLs that the
HTTP client's log must not show in full."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from shared.logs import configure_logging
from shared.middleware import SecurityHeadersMiddleware


def app_answering(path: str) -> FastAPI:
    app = FastAPI()

    @app.get(path)
    async def answer() -> JSONResponse:
        # A handler that (wrongly) allows caching of a child's record.
        return JSONResponse({"name": "Synthetic Child"},
                            headers={"cache-control": "public, max-age=3600"})

    return app


async def get(app: FastAPI, path: str, *, https: bool) -> httpx.Response:
    secured = SecurityHeadersMiddleware(app, https=https)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=secured),
                                 base_url="http://hub.test") as client:
        return await client.get(path)


@pytest.mark.parametrize("path", ["/api/v1/referrals/r-1", "/fhir/ServiceRequest/r-1",
                                  "/oauth2/token"])
async def test_api_answers_may_not_be_cached_or_sniffed_even_if_a_handler_allows_caching(
    path: str,
) -> None:
    response = await get(app_answering(path), path, https=False)
    assert response.headers.get_list("cache-control") == ["no-store"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers


async def test_pages_outside_the_api_keep_their_caching_and_get_nosniff() -> None:
    response = await get(app_answering("/app.js"), "/app.js", https=False)
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_hub_served_over_https_tells_browsers_to_use_https_only() -> None:
    path = "/api/v1/me"
    response = await get(app_answering(path), path, https=True)
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_stacked_twice_each_header_is_sent_once() -> None:
    app = SecurityHeadersMiddleware(app_answering("/api/v1/me"), https=True)
    secured = SecurityHeadersMiddleware(app, https=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=secured),
                                 base_url="http://hub.test") as client:
        response = await client.get("/api/v1/me")
    for name in ("cache-control", "x-content-type-options", "strict-transport-security"):
        assert len(response.headers.get_list(name)) == 1, name


def test_the_http_client_logs_a_webhook_s_host_but_not_its_path_or_query_string(
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO")
    client_log = logging.getLogger("httpx")
    client_log.addHandler(caplog.handler)
    try:
        transport = httpx.MockTransport(lambda _request: httpx.Response(204))
        with httpx.Client(transport=transport) as client:
            client.post("https://hooks.partner.example:8443/case/4417/notify?token=s3cret-tok")
    finally:
        client_log.removeHandler(caplog.handler)
        root.handlers[:] = handlers
        root.setLevel(level)

    [logged] = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert "https://hooks.partner.example:8443" in logged
    assert "s3cret-tok" not in logged and "/case/4417" not in logged
