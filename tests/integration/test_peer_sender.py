"""The peer sender against a peer that answers as told: the token by a client assertion
the published JWKS verifies, retries, refusals for good, dead letters and their replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
from sqlmodel import col, select

from services.referral.peers import service as peers
from services.referral.peers.keys import peer_fernet
from services.referral.peers.models import PeerNotice, PeerNoticeAttempt
from services.referral.peers.sender import PEER_HUB_NOTIFIED, PeerSender
from services.referral.referrals.models import Referral
from services.referral.settings import HubSettings
from services.referral.workflow.models import TimelineEntry
from shared.events import utcnow
from shared.outbox import OutboxMessage
from shared.ssrf import UrlGuard
from shared.workers import PollingWorker
from tests.bodies import referral_body
from tests.integration.partners import Intake, child

PEER = "https://peer.example"
LATER = timedelta(days=3)  # out of reach of the hub's own sender


async def public_address(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


class Peer:
    """A peer hub's answers, in order; every request it got."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "token-at-peer",
                                             "expires_in": 900})
        code = self.answers.pop(0)
        body = {"id": "remote-id", "reference": "MASH-2026-000777"} if code == 201 else {}
        return httpx.Response(code, json=body)


async def setup(intake: Intake, schedule: list[float], peer: Peer
                ) -> tuple[PeerSender, str, dict[str, Any]]:
    receipt = (await intake.submit(referral_body(subjects=[child(looked_after={
        "placing_la_code": "372", "host_la_code": "373"})]))).json()
    service = intake.hub.services["referral"]
    for worker in service.workers:  # the hub's own sender: the test drives its own
        if isinstance(worker, PeerSender):
            await PollingWorker.stop(worker)
    fernet = peer_fernet(service.settings)
    async with service.database.unit_of_work() as uow:
        hub = await peers.register(uow, fernet, name="Peer MASH", la_code="373",
                                   base_url=PEER, client_id="mash-hub-372", agency_id=None)
        referral = await uow.session.get(Referral, receipt["id"])
        assert referral is not None
        notice = peers.queue_notice(uow, HubSettings(la_code="372"), hub, referral, [],
                                    kind="referral", legal_basis="basis",
                                    share_summary=False)
        notice.next_attempt_at = utcnow() + LATER
        await uow.commit()
        jwks_path, notice_id = f"/api/v1/peer-hubs/{hub.id}/jwks.json", notice.id
    sender = PeerSender(service.database, fernet,
                        UrlGuard(allow_loopback=False, resolver=public_address),
                        schedule=schedule, timeout=5,
                        transport=httpx.MockTransport(peer.handler))
    return sender, notice_id, {"jwks": jwks_path, "referral_id": receipt["id"]}


async def notice_of(intake: Intake, notice_id: str) -> PeerNotice:
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        notice = await uow.session.get(PeerNotice, notice_id)
        assert notice is not None
        return notice


async def rows(intake: Intake, model: type, *where: Any) -> list[Any]:
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        return list((await uow.session.exec(select(model).where(*where))).all())


async def test_a_refused_attempt_is_retried_and_the_peers_reference_kept(
    intake: Intake,
) -> None:
    peer = Peer(503, 201)
    sender, notice_id, found = await setup(intake, [3600.0], peer)
    await sender.attempt(notice_id)
    waiting = await notice_of(intake, notice_id)
    assert (waiting.status, waiting.last_error, waiting.attempt_count) == (
        "pending", "HTTP 503", 1)
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > utcnow()
    await sender.attempt(notice_id)
    await sender.stop()
    delivered = await notice_of(intake, notice_id)
    assert (delivered.status, delivered.remote_reference) == ("delivered", "MASH-2026-000777")
    posts = [r for r in peer.requests if r.url.path == "/api/v1/referrals"]
    assert [r.headers["idempotency-key"] for r in posts] == [notice_id, notice_id]
    assert all(r.headers["host"] == "peer.example" for r in posts), "pinned, named host"
    assert json.loads(posts[0].content)["kind"] == "notification"
    assert len(await rows(intake, PeerNoticeAttempt,
                          col(PeerNoticeAttempt.notice_id) == notice_id)) == 2
    assert [t.what for t in await rows(intake, TimelineEntry, col(
        TimelineEntry.referral_id) == found["referral_id"])][-1] == "peer_hub_notified"
    assert await rows(intake, OutboxMessage, col(OutboxMessage.event_type) == PEER_HUB_NOTIFIED)

    # The token was asked for with an assertion the published key verifies.
    (token_request,) = [r for r in peer.requests if r.url.path == "/oauth2/token"]
    form = dict(x.split("=", 1) for x in token_request.content.decode().split("&"))
    jwks = (await intake.client.get(found["jwks"])).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(form["client_assertion"], key.key, algorithms=["ES256"],
                        audience=f"{PEER}/oauth2/token")
    assert claims["iss"] == claims["sub"] == "mash-hub-372"


async def test_a_notice_refused_for_good_or_out_of_retries_is_dead_until_an_admin_replays(
    intake: Intake,
) -> None:
    peer = Peer(422)
    sender, notice_id, _ = await setup(intake, [3600.0], peer)
    await sender.attempt(notice_id)
    dead = await notice_of(intake, notice_id)
    assert (dead.status, dead.dead_reason) == ("dead", "permanently_rejected")

    csrf = await intake.as_user("mash.practitioner")
    refused = await intake.client.post(f"/api/v1/peer-hubs/notices/{notice_id}/retry",
                                       headers=csrf)
    assert refused.status_code == 403
    csrf = await intake.as_user("admin")
    replayed = await intake.client.post(f"/api/v1/peer-hubs/notices/{notice_id}/retry",
                                        headers=csrf)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "pending"
    again = await intake.client.post(f"/api/v1/peer-hubs/notices/{notice_id}/retry",
                                     headers=csrf)
    assert again.status_code == 409

    exhausting: Callable[[], Peer] = lambda: Peer(500, 500)  # noqa: E731
    peer2 = exhausting()
    sender.client = httpx.AsyncClient(transport=httpx.MockTransport(peer2.handler))
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        notice = await uow.session.get(PeerNotice, notice_id)
        assert notice is not None
        notice.next_attempt_at = utcnow() + LATER
        uow.session.add(notice)
        await uow.commit()
    await sender.attempt(notice_id)
    await sender.attempt(notice_id)
    await sender.stop()
    gone = await notice_of(intake, notice_id)
    assert (gone.status, gone.dead_reason, gone.attempt_count) == (
        "dead", "retries_exhausted", 2)
