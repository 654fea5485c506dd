"""A partner's webhook receiver and mailbox, and a clock tests can move, for notify tests."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from starlette.types import Receive, Scope, Send

from tests.helpers import free_port


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Reply:
    """What the receiver answers next."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """A partner's webhook endpoint on 127.0.0.1: records requests, answers as scripted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.arrived = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/mash"

    def answer(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` (then 204)."""
        self.replies.extend(replies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender went away mid-request (a hub killed): nothing arrived
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        reply = self.replies.popleft() if self.replies else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        self.received.append(Received(headers, body))
        self.arrived.set()
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": [(k.encode(), v.encode()) for k, v in reply.headers.items()]})
        await send({"type": "http.response.body", "body": b""})

    async def start(self) -> None:
        """Listen (again, on the same port)."""
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn offers no event
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop listening: connections are refused until start() again."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = None
            self._task = None

    def ids(self) -> list[str]:
        """The webhook-id of every request, in arrival order."""
        return [r.headers["webhook-id"] for r in self.received]


class Mailbox:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it is sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.refusals: deque[str] = deque()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def refuse(self, *replies: str) -> None:
        """Answer the next messages' DATA with ``replies`` (e.g. "550 5.1.1 No such user")."""
        self.refusals.extend(replies)

    async def handle_DATA(self, server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        if self.refusals:
            return self.refusals.popleft()
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        # Starts at the real time, so signatures verify within the library's tolerance.
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def move_to(self, when: datetime) -> None:
        self.now = max(self.now, when)
