"""/api/v1/peer-hubs: other hubs (admin), their JWKS (public), the sharing ledger; and
/api/v1/referrals/{id}/peer-notices: share now, or record a decision not to share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.links import REFERRALS
from services.referral.peers import keys, service
from services.referral.peers.models import SAFEGUARDING_BASIS, NoticeStatus, PeerHub, PeerNotice
from services.referral.peers.schemas import (
    ExchangeFigures,
    Ledger,
    NoticeView,
    PeerHubChange,
    PeerHubCreate,
    PeerHubList,
    PeerHubView,
    RequestLine,
    ShareDecision,
)
from services.referral.permissions import MashWorker
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.runtime import RuntimeDep
from services.referral.workflow.models import InformationRequest
from shared.auth import Principal, RolePermission
from shared.events import utcnow
from shared.problems import Problem
from shared.roles import Role
from shared.service import UnitOfWorkDep
from shared.ssrf import UnsafeUrl

PeerHubAdmin = Annotated[Principal, Depends(RolePermission("manage peer hubs", Role.ADMIN))]
LedgerReader = Annotated[Principal, Depends(RolePermission(
    "read the sharing ledger", Role.ADMIN, Role.AUDITOR, Role.BOARD_MEMBER, Role.MASH_MANAGER))]

router = APIRouter(prefix="/api/v1/peer-hubs", tags=["peer hubs"])
shares = APIRouter(prefix=REFERRALS, tags=["peer hubs"])


def _peers(runtime: Any) -> Any:
    if runtime.peers is None:
        raise Problem(503, "Peer hubs are not configured on this hub.")
    return runtime.peers


@router.get("", response_model=PeerHubList)
async def list_peer_hubs(caller: PeerHubAdmin, uow: UnitOfWorkDep,
                         runtime: RuntimeDep) -> PeerHubList:
    """Every registered peer hub (admin)."""
    origin = _peers(runtime).origin
    return PeerHubList(items=[PeerHubView.of(p, origin) for p in await service.all_peers(uow)])


@router.post("", response_model=PeerHubView, status_code=201,
             responses={409: {"description": "A peer hub is already registered for that "
                                             "local authority"}})
async def register_peer_hub(body: PeerHubCreate, caller: PeerHubAdmin, uow: UnitOfWorkDep,
                            runtime: RuntimeDep) -> PeerHubView:
    """Register another MASH hub. This hub makes a key pair for it: register this hub at
    the peer as a partner system with ``private_key_jwt``, the returned ``jwks_uri`` and
    the algorithm ES256, under ``client_id``."""
    peers = _peers(runtime)
    url = str(body.base_url).rstrip("/")
    try:
        await peers.guard.check(url)
    except UnsafeUrl as exc:
        raise Problem(422, str(exc), errors=[{"loc": ["body", "base_url"],
                                              "msg": str(exc)}]) from exc
    if body.la_code == peers.hub.la_code:
        raise Problem(422, "That is this hub's own local authority.",
                      errors=[{"loc": ["body", "la_code"], "msg": "is this hub's own"}])
    if await service.by_la_code(uow, body.la_code) is not None:
        raise Problem(409, "A peer hub is already registered for that local authority.")
    peer = await service.register(uow, peers.fernet, name=body.name, la_code=body.la_code,
                                  base_url=url, client_id=body.client_id,
                                  agency_id=body.agency_id)
    try:
        await uow.session.flush()
    except IntegrityError as exc:  # registered at the same moment by another admin
        raise Problem(409, "A peer hub is already registered for that local authority.") \
            from exc
    await audit.record(uow, caller, "create", "peer_hub", peer.id, "administration")
    return PeerHubView.of(peer, peers.origin)


@router.get("/ledger", response_model=Ledger)
async def read_ledger(caller: LedgerReader, uow: UnitOfWorkDep,
                      status: NoticeStatus | None = None,
                      since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
                      until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Ledger:
    """Every notice to a peer hub and every decision not to share, with its legal basis
    and reason, newest first; the information requests to partners with theirs; and per
    peer hub, the notices exchanged and how fast they were accepted (no names, no
    narrative). ``from``/``to`` bound the time the line was written."""
    notices = await service.ledger(uow, since=since, until=until, limit=limit,
                                   status=status)
    names = {p.id: p.name for p in await service.all_peers(uow)}
    asked = select(InformationRequest)
    if since is not None:
        asked = asked.where(col(InformationRequest.created_at) >= since)
    if until is not None:
        asked = asked.where(col(InformationRequest.created_at) < until)
    requests = (await uow.session.exec(
        asked.order_by(col(InformationRequest.created_at).desc()).limit(limit))).all()
    figures = await service.exchange_figures(uow, since=since, until=until)
    await audit.record(uow, caller, "read", "peer_notice", "*", "sharing_ledger")
    return Ledger(items=[NoticeView.of(n, names.get(n.peer_hub_id)) for n in notices],
                  information_requests=[RequestLine(
                      id=r.id, referral_id=r.referral_id, agency_id=r.agency_id,
                      legal_basis=r.legal_basis, status=r.status, created_at=r.created_at)
                      for r in requests],
                  figures=[ExchangeFigures.model_validate(f) for f in figures])


@router.post("/notices/{notice_id}/retry", response_model=NoticeView)
async def retry_notice(notice_id: str, caller: PeerHubAdmin, uow: UnitOfWorkDep) -> NoticeView:
    """Send a dead-lettered notice again (admin)."""
    notice = await uow.session.get(PeerNotice, notice_id)
    if notice is None:
        raise Problem(404, "No such notice.")
    if notice.status != NoticeStatus.DEAD:
        raise Problem(409, "Only a dead-lettered notice is sent again.")
    notice.status, notice.dead_reason = NoticeStatus.PENDING, None
    notice.attempt_count, notice.next_attempt_at = 0, utcnow()
    uow.session.add(notice)
    await audit.record(uow, caller, "retry", "peer_notice", notice.id, "administration")
    peer = await uow.session.get(PeerHub, notice.peer_hub_id)
    return NoticeView.of(notice, peer.name if peer else None)


@router.patch("/{peer_hub_id}", response_model=PeerHubView)
async def change_peer_hub(peer_hub_id: str, body: PeerHubChange, caller: PeerHubAdmin,
                          uow: UnitOfWorkDep, runtime: RuntimeDep) -> PeerHubView:
    """Stop (``active: false``) or resume notices to a peer hub (admin). A stopped peer's
    JWKS is no longer published, so no token is issued to this hub there."""
    peer = await uow.session.get(PeerHub, peer_hub_id)
    if peer is None:
        raise Problem(404, "No such peer hub.")
    peer.active = body.active
    uow.session.add(peer)
    await audit.record(uow, caller, "update", "peer_hub", peer.id, "administration")
    return PeerHubView.of(peer, _peers(runtime).origin)


@router.post("/{peer_hub_id}/key", response_model=PeerHubView)
async def rotate_peer_key(peer_hub_id: str, caller: PeerHubAdmin, uow: UnitOfWorkDep,
                          runtime: RuntimeDep) -> PeerHubView:
    """Replace this hub's key for a peer (admin), say after a suspected leak: the old key
    signs nothing more and leaves the JWKS at once; the peer finds the new one by its key
    id at the same ``jwks_uri``."""
    peers = _peers(runtime)
    peer = await uow.session.get(PeerHub, peer_hub_id)
    if peer is None:
        raise Problem(404, "No such peer hub.")
    key = keys.new_key(peers.fernet)
    peer.kid, peer.public_jwk = key.kid, key.public_jwk
    peer.private_key_encrypted = key.private_key_encrypted
    uow.session.add(peer)
    await audit.record(uow, caller, "rotate_key", "peer_hub", peer.id, "administration")
    return PeerHubView.of(peer, peers.origin)


@router.get("/{peer_hub_id}/jwks.json", responses={404: {"description": "No such peer hub"}})
async def peer_jwks(peer_hub_id: str, uow: UnitOfWorkDep, response: Response
                    ) -> dict[str, Any]:
    """The public key this hub signs its client assertions at that peer with (public:
    the peer's identity service fetches it)."""
    peer = await uow.session.get(PeerHub, peer_hub_id)
    if peer is None or not peer.active:
        raise Problem(404, "No such peer hub.")
    response.headers["Cache-Control"] = "public, max-age=300"
    return keys.jwks(peer.public_jwk)


@shares.get("/{referral_id}/peer-notices", response_model=Ledger)
async def referral_notices(referral_id: str, caller: MashWorker, uow: UnitOfWorkDep) -> Ledger:
    """What this referral's peer hubs were told (or not, and why)."""
    if await uow.session.get(Referral, referral_id) is None:
        raise Problem(404, "No such referral.")
    names = {p.id: p.name for p in await service.all_peers(uow)}
    return Ledger(items=[NoticeView.of(n, names.get(n.peer_hub_id))
                         for n in await service.notices_of_referral(uow, referral_id)])


@shares.post("/{referral_id}/peer-notices", response_model=NoticeView, status_code=201)
async def share_with_peer(referral_id: str, body: ShareDecision, caller: MashWorker,
                          uow: UnitOfWorkDep, runtime: RuntimeDep) -> NoticeView:
    """Share the referral with a peer hub now, under a legal basis (default: Children Act
    2004 s11 / DPA 2018 Sch 8), with the referrer's account if ``share_summary``; or record
    the decision not to share and its reason."""
    peers = _peers(runtime)
    referral = await uow.session.get(Referral, referral_id)
    if referral is None:
        raise Problem(404, "No such referral.")
    peer = await uow.session.get(PeerHub, body.peer_hub_id)
    if peer is None or not peer.active:
        raise Problem(422, "No such peer hub.",
                      errors=[{"loc": ["body", "peer_hub_id"], "msg": "no such peer hub"}])
    if not body.share:
        if not body.reason:
            raise Problem(422, "Say why the referral is not shared.",
                          errors=[{"loc": ["body", "reason"], "msg": "is required"}])
        notice = service.record_not_shared(uow, peer, referral, caller, body.reason,
                                           body.legal_basis)
    else:
        subjects = list((await uow.session.exec(
            select(ReferralSubject).where(col(ReferralSubject.referral_id) == referral.id)
            .order_by(col(ReferralSubject.position)))).all())
        children = service.placed_children(subjects, peer.la_code) or \
            [s for s in subjects if s.role == "child"]
        notice = service.queue_notice(uow, peers.hub, peer, referral, children, kind="share",
                                      legal_basis=body.legal_basis or SAFEGUARDING_BASIS,
                                      share_summary=body.share_summary,
                                      decided_by=caller.subject)
    await audit.record(uow, caller, "share" if body.share else "decline_share", "referral",
                       referral.id, "peer_hub_share")
    return NoticeView.of(notice, peer.name)
