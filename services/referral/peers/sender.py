"""The sender: a Service worker that posts due notices to peer hubs and retries them.

Everything it needs is in the referral database, so a restart forgets and repeats nothing
but an attempt in flight (the peer drops the repeat by its Idempotency-Key). A claim is a
lease (``next_attempt_at`` moved past the attempt's timeout), as notify's dispatcher does;
on PostgreSQL due rows are claimed with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from sqlalchemy import update
from sqlmodel import col, select

from services.referral.peers import keys
from services.referral.peers.models import (
    PEER_NOTICES,
    NoticeStatus,
    PeerHub,
    PeerNotice,
    PeerNoticeAttempt,
)
from services.referral.referrals.models import Referral
from services.referral.workflow.models import TimelineEntry
from shared.db import Database, UnitOfWork
from shared.events import CloudEvent, utcnow
from shared.outbox import add_to_outbox
from shared.ssrf import OutboundClient, UnsafeUrl, UrlGuard, host_header, pinned_url
from shared.workers import PollingWorker

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

PEER_HUB_NOTIFIED = "mash.peer_hub.notified"
USER_AGENT = "mash-peer-hub/0.1"
# Answers that say the notice itself is wrong: sending it again cannot help.
PERMANENT = frozenset({400, 403, 404, 405, 410, 413, 415, 422})


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to; ``error`` is a short label, never a response body."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False
    answer: dict[str, Any] | None = None


class PeerSender(PollingWorker):
    """Claims due notices, posts each to its peer hub, records what happened."""

    client = OutboundClient()

    def __init__(self, database: Database, fernet: Fernet, guard: UrlGuard, *,
                 schedule: Sequence[float], timeout: float, poll_seconds: float = 1.0,
                 batch_size: int = 20, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        super().__init__("referral-peer-sender", poll_seconds=poll_seconds)
        self.database = database
        self.fernet = fernet
        self.guard = guard
        self.schedule = tuple(schedule)
        self.timeout = timeout
        self.batch_size = batch_size
        self.lease = timedelta(seconds=timeout * 3)
        self.transport = transport
        # (peer id, key id) -> (expires, token): a new key gets a new token at once.
        self._tokens: dict[tuple[str, str], tuple[float, str]] = {}
        database.on_commit(self.wake, only=PEER_NOTICES)  # queue_notice notes them

    async def step(self) -> None:
        """Send everything due now."""
        while ids := await self.claim_due():
            for notice_id in ids:
                await self.attempt(notice_id)

    async def claim_due(self) -> list[str]:
        """Lease up to a batch of due notices, oldest first."""
        now = utcnow()
        query = (select(PeerNotice.id)
                 .where(col(PeerNotice.status) == NoticeStatus.PENDING,
                        col(PeerNotice.next_attempt_at) <= now)
                 .order_by(col(PeerNotice.next_attempt_at)).limit(self.batch_size))
        if not self.database.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        async with self.database.unit_of_work() as uow:
            ids = list((await uow.session.exec(query)).all())
            if ids:
                await uow.session.exec(update(PeerNotice).where(col(PeerNotice.id).in_(ids))
                                       .values(next_attempt_at=now + self.lease))
            await uow.session.commit()  # a claim is not news: no after-commit wake-up
        return ids

    async def attempt(self, notice_id: str) -> None:
        """Send one claimed notice and record the outcome."""
        async with self.database.unit_of_work() as uow:
            notice = await uow.session.get(PeerNotice, notice_id)
            if notice is None or notice.status != NoticeStatus.PENDING:
                return
            peer = await uow.session.get(PeerHub, notice.peer_hub_id)
            started = time.perf_counter()
            if peer is None or not peer.active:
                outcome = Attempt(False, error="peer hub not active", permanent=True)
            else:
                try:
                    outcome = await self._send(peer, notice)
                except Exception as exc:  # a bug here must not stop the sender
                    log.exception("peer notice failed", extra={"notice_id": notice_id})
                    outcome = Attempt(False, error=type(exc).__name__)
            latency_ms = (time.perf_counter() - started) * 1000
            await self._record(uow, notice, peer, outcome, latency_ms)
            await uow.commit()

    async def _record(self, uow: UnitOfWork, notice: PeerNotice, peer: PeerHub | None,
                      outcome: Attempt, latency_ms: float) -> None:
        now = utcnow()
        uow.session.add(PeerNoticeAttempt(notice_id=notice.id, attempted_at=now,
                                          status_code=outcome.status_code,
                                          latency_ms=round(latency_ms, 2), error=outcome.error))
        notice.attempt_count += 1
        notice.last_status_code = outcome.status_code
        notice.last_error = outcome.error
        uow.session.add(notice)
        if outcome.delivered and peer is not None:
            answer = outcome.answer or {}
            notice.status = NoticeStatus.DELIVERED
            notice.delivered_at = now
            notice.next_attempt_at = None
            notice.remote_referral_id = str(answer.get("id") or "")[:36] or None
            notice.remote_reference = str(answer.get("reference") or "")[:32] or None
            await _announce(uow, notice, peer, now)
            return
        if outcome.permanent:
            _dead(notice, "permanently_rejected")
            return
        if notice.attempt_count <= len(self.schedule):
            notice.next_attempt_at = now + timedelta(
                seconds=self.schedule[notice.attempt_count - 1])
            return
        _dead(notice, "retries_exhausted")

    async def _send(self, peer: PeerHub, notice: PeerNotice) -> Attempt:
        token = await self._token(peer)
        if isinstance(token, Attempt):
            return token
        headers = {"authorization": f"Bearer {token}", "idempotency-key": notice.id,
                   "x-purpose": "peer_hub_notice"}
        response = await self._post(f"{peer.base_url}/api/v1/referrals", headers,
                                    json=notice.body)
        if isinstance(response, Attempt):
            return response
        code, body = response
        if code == 401:
            self._tokens.pop((peer.id, peer.kid), None)  # revoked or expired early: anew
        if 200 <= code < 300:
            return Attempt(True, status_code=code, answer=body)
        return Attempt(False, status_code=code, error=f"HTTP {code}",
                       permanent=code in PERMANENT)

    async def _token(self, peer: PeerHub) -> str | Attempt:
        """An access token at the peer, by a client assertion signed with its key."""
        cached = self._tokens.get((peer.id, peer.kid))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        token_endpoint = f"{peer.base_url}/oauth2/token"
        assertion = keys.client_assertion(self.fernet, peer.private_key_encrypted, peer.kid,
                                          peer.client_id, token_endpoint)
        response = await self._post(token_endpoint, {}, data={
            "grant_type": "client_credentials", "client_id": peer.client_id,
            "client_assertion_type": keys.ASSERTION_TYPE, "client_assertion": assertion})
        if isinstance(response, Attempt):
            return response
        code, body = response
        token = (body or {}).get("access_token")
        if code != 200 or not isinstance(token, str):
            return Attempt(False, status_code=code, error=f"token HTTP {code}")
        lifetime = float((body or {}).get("expires_in") or 60)
        self._tokens[(peer.id, peer.kid)] = (time.monotonic() + max(lifetime - 30, 1), token)
        return token

    async def _post(self, url: str, headers: dict[str, str], **content: Any
                    ) -> tuple[int, dict[str, Any] | None] | Attempt:
        """POST to an address just checked by the guard (pinned, so DNS cannot rebind)."""
        import httpx

        try:
            addresses = await self.guard.check(url)
        except UnsafeUrl:
            return Attempt(False, error="address not allowed")
        hostname = urlsplit(url).hostname or ""
        headers = {**headers, "user-agent": USER_AGENT, "host": host_header(url)}
        for n, address in enumerate(addresses, start=1):
            try:
                response = await self.client.post(pinned_url(url, address), headers=headers,
                                                  extensions={"sni_hostname": hostname},
                                                  **content)
            except httpx.ConnectError as exc:
                if n == len(addresses):
                    return Attempt(False, error=type(exc).__name__)
                continue
            except httpx.TimeoutException:
                return Attempt(False, error="timeout")
            except httpx.HTTPError as exc:
                return Attempt(False, error=type(exc).__name__)
            try:
                body = response.json() if response.content else None
            except ValueError:
                body = None
            return response.status_code, body if isinstance(body, dict) else None
        return Attempt(False, error="no address")

    async def stop(self) -> None:
        """Stop; an attempt cut short is retried when its lease ends."""
        await super().stop()
        await PeerSender.client.close(self)


def _dead(notice: PeerNotice, reason: str) -> None:
    notice.status = NoticeStatus.DEAD
    notice.dead_reason = reason
    notice.next_attempt_at = None


async def _announce(uow: UnitOfWork, notice: PeerNotice, peer: PeerHub, now: datetime) -> None:
    """The chronology line on the referral and `mash.peer_hub.notified`."""
    referral = await uow.session.get(Referral, notice.referral_id)
    detail = {"peer_hub": peer.name, "la_code": peer.la_code, "notice": notice.kind,
              "their_reference": notice.remote_reference, "legal_basis": notice.legal_basis}
    if referral is not None:
        uow.session.add(TimelineEntry(referral_id=referral.id, at=now, what="peer_hub_notified",
                                      actor=None, agency_id=None, detail=detail))
    add_to_outbox(uow, CloudEvent(
        source="/services/referral", type=PEER_HUB_NOTIFIED, subject=notice.referral_id,
        data={"referral_id": notice.referral_id, "peer_hub_id": peer.id,
              "notice_id": notice.id, "notice": notice.kind,
              "peer_reference": notice.remote_reference,
              "delivered_at": now.isoformat(),
              "links": {"self": f"/api/v1/referrals/{notice.referral_id}"}}))
