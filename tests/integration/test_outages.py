"""A service whose database is away answers 503 with Retry-After, on a connection it keeps."""

from __future__ import annotations

import base64
import json

from services.identity.app import create_service
from shared.broker.memory import InProcessBroker
from shared.outages import RETRY_AFTER_SECONDS
from shared.settings import Settings
from tests.helpers import HUB_BASE_URL, KeepAliveClient, free_port, served


async def test_a_database_refusing_connections_answers_503_and_the_connection_stays_usable(
) -> None:
    closed_port = free_port()  # nothing listens there: every connection is refused
    settings = Settings(base_url=HUB_BASE_URL, identity_database_url=(
        f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/test"))
    service = create_service(settings, InProcessBroker())
    credentials = base64.b64encode(b"partner-system:not-a-real-secret").decode()
    form = b"grant_type=client_credentials"
    try:
        async with served(service.app) as port:
            connection = await KeepAliveClient.open(port)
            try:
                status, headers, body = await connection.request(
                    "POST", "/oauth2/token", {
                        "Authorization": f"Basic {credentials}",
                        "Content-Type": "application/x-www-form-urlencoded"}, form)

                assert status == 503, body
                assert headers["content-type"] == "application/problem+json"
                assert headers["retry-after"] == str(RETRY_AFTER_SECONDS)
                assert headers.get("connection") != "close"
                assert json.loads(body)["title"] == "Service unavailable"
                again, _, _ = await connection.request("GET", "/healthz")
                assert again == 200
            finally:
                await connection.close()
    finally:
        await service.database.dispose()
