"""Peer hubs registered, notices made from the referral service's own events, the ledger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography.fernet import Fernet
from sqlmodel import col, select

from services.referral.codes import CONCERNS
from services.referral.events import REFERRAL_DECIDED, REFERRAL_RECEIVED
from services.referral.peers import keys
from services.referral.peers.models import (
    PEER_NOTICES,
    SAFEGUARDING_BASIS,
    NoticeStatus,
    PeerHub,
    PeerNotice,
)
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.settings import HubSettings
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import CloudEvent, utcnow

NOTICE_SOURCE = "5C"  # CIN census referral source: LA services, external
# What a child is described by in a notice: enough to find them, nothing of the story.
IDENTIFYING = ("given_name", "family_name", "other_names", "date_of_birth", "sex",
               "nhs_number", "upn", "looked_after", "child_protection_plan")


async def register(uow: UnitOfWork, fernet: Fernet, *, name: str, la_code: str, base_url: str,
                   client_id: str, agency_id: str | None) -> PeerHub:
    """A new peer hub, with a fresh key pair for this hub's assertions there."""
    key = keys.new_key(fernet)
    peer = PeerHub(name=name, la_code=la_code, base_url=base_url.rstrip("/"),
                   client_id=client_id, agency_id=agency_id, kid=key.kid,
                   public_jwk=key.public_jwk, private_key_encrypted=key.private_key_encrypted,
                   created_at=utcnow())
    uow.session.add(peer)
    return peer


async def by_la_code(uow: UnitOfWork, la_code: str) -> PeerHub | None:
    """The peer hub of the authority ``la_code``, if one is registered."""
    return (await uow.session.exec(select(PeerHub).where(col(PeerHub.la_code) == la_code))
            ).first()


async def all_peers(uow: UnitOfWork) -> list[PeerHub]:
    """Every registered peer hub, by name."""
    return list((await uow.session.exec(select(PeerHub).order_by(col(PeerHub.name)))).all())


async def peer_of_agency(uow: UnitOfWork, agency_id: str) -> PeerHub | None:
    """The peer hub whose partner system speaks for ``agency_id`` here, if any."""
    return (await uow.session.exec(select(PeerHub).where(col(PeerHub.agency_id) == agency_id))
            ).first()


def placed_children(subjects: Iterable[ReferralSubject], la_code: str
                    ) -> list[ReferralSubject]:
    """The children placed by, or in the area of, the authority ``la_code``."""
    return [s for s in subjects if s.role == "child" and s.looked_after
            and la_code in (s.looked_after.get("placing_la_code"),
                            s.looked_after.get("host_la_code"))]


def child_identifiers(subject: ReferralSubject) -> dict[str, Any]:
    """A child as a notice describes them: identifiers, placement, plan, postcode."""
    child: dict[str, Any] = {"role": "child"}
    for name in IDENTIFYING:
        value = getattr(subject, name)
        if value:
            child[name] = value.isoformat() if isinstance(value, date) else value
    if subject.postcode:
        child["address"] = {"postcode": subject.postcode}
    return child


def notice_body(hub: HubSettings, referral: Referral, children: Sequence[ReferralSubject],
                kind: str, legal_basis: str, share_summary: bool) -> dict[str, Any]:
    """What the peer's ``POST /api/v1/referrals`` is sent: a notification carrying this
    hub's reference, the children's identifiers and the concern codes; the referrer's
    account only when someone chose to share it."""
    own = f"{hub.hub_name} (LA {hub.la_code})" if hub.la_code else hub.hub_name
    concerns = ", ".join(f"{c} {CONCERNS.get(c, '')}".strip() for c in referral.concerns)
    if kind == "decision":
        what = (f"{own} decided on referral {referral.reference}: {referral.outcome} "
                f"({referral.decided_at:%Y-%m-%d}).") if referral.decided_at else \
            f"{own} decided on referral {referral.reference}: {referral.outcome}."
    else:
        what = (f"{own} received referral {referral.reference} "
                f"({referral.received_at:%Y-%m-%d}) about a child placed in or from your "
                f"area.")
    summary = f"{what} Concerns: {concerns}. Shared under {legal_basis}."
    if share_summary:
        summary += f"\n\nThe referrer's account:\n{referral.summary or ''}"
        if kind == "decision" and referral.decision_rationale:
            summary += f"\n\nThe decision's reasons:\n{referral.decision_rationale}"
    return {
        "source": NOTICE_SOURCE, "kind": "notification",
        "referrer": {"name": hub.hub_name[:200], "role": "Multi-agency safeguarding hub"},
        "subjects": [child_identifiers(s) for s in children],
        "concerns": list(referral.concerns),
        "immediate_risk": referral.immediate_risk,
        "summary": summary[:20_000],
        "consent": {"status": "not_sought",
                    "reason": f"shared between safeguarding hubs under {legal_basis}"},
        "external_reference": referral.reference,
    }


@dataclass(frozen=True)
class NoticeMaker:
    """Consumer of this service's own `received` and `decided` events: a notice to each
    peer hub whose authority placed or hosts a child of the referral, written in the
    handling's transaction (so the event is handled and the notice kept, or neither)."""

    hub: HubSettings

    async def __call__(self, uow: UnitOfWork, event: CloudEvent) -> None:
        referral = await uow.session.get(Referral, str(event.data.get("referral_id")))
        if referral is None:
            return
        kind = {REFERRAL_RECEIVED: "referral", REFERRAL_DECIDED: "decision"}.get(event.type)
        if kind is None:
            return
        subjects = list((await uow.session.exec(
            select(ReferralSubject).where(col(ReferralSubject.referral_id) == referral.id)
            .order_by(col(ReferralSubject.position)))).all())
        codes = {code for s in subjects if s.role == "child" and s.looked_after
                 for code in (s.looked_after.get("placing_la_code"),
                              s.looked_after.get("host_la_code"))
                 if code and code != self.hub.la_code}
        for code in sorted(codes):
            peer = await by_la_code(uow, code)
            if peer is None or not peer.active:
                continue
            # A peer's own notice is not sent back to it; the decision on it is.
            if kind == "referral" and peer.agency_id == referral.referring_agency_id:
                continue
            queue_notice(uow, self.hub, peer, referral, placed_children(subjects, code),
                         kind=kind, legal_basis=SAFEGUARDING_BASIS, share_summary=False,
                         committed_at=event.time)


def queue_notice(uow: UnitOfWork, hub: HubSettings, peer: PeerHub, referral: Referral,
                 children: Sequence[ReferralSubject], *, kind: str, legal_basis: str,
                 share_summary: bool, committed_at: datetime | None = None,
                 decided_by: str | None = None) -> PeerNotice:
    """A notice due now (the sender is woken by the commit)."""
    uow.note(PEER_NOTICES)
    now = utcnow()
    notice = PeerNotice(peer_hub_id=peer.id, referral_id=referral.id, kind=kind,
                        legal_basis=legal_basis, shares_summary=share_summary,
                        decided_by=decided_by,
                        body=notice_body(hub, referral, children, kind, legal_basis,
                                         share_summary),
                        created_at=now, committed_at=committed_at or now, next_attempt_at=now)
    uow.session.add(notice)
    return notice


def record_not_shared(uow: UnitOfWork, peer: PeerHub, referral: Referral, who: Principal,
                      reason: str, legal_basis: str | None) -> PeerNotice:
    """A decision not to share with a peer hub, and why: a line of the ledger."""
    now = utcnow()
    notice = PeerNotice(peer_hub_id=peer.id, referral_id=referral.id, kind="share",
                        status=NoticeStatus.NOT_SHARED, legal_basis=legal_basis, reason=reason,
                        decided_by=who.subject, created_at=now)
    uow.session.add(notice)
    return notice


async def notices_of_referral(uow: UnitOfWork, referral_id: str) -> list[PeerNotice]:
    """A referral's notices to peer hubs, oldest first."""
    return list((await uow.session.exec(
        select(PeerNotice).where(col(PeerNotice.referral_id) == referral_id)
        .order_by(col(PeerNotice.created_at)))).all())


async def ledger(uow: UnitOfWork, *, since: datetime | None, until: datetime | None,
                 limit: int, status: str | None = None) -> list[PeerNotice]:
    """Every share and decision not to share, newest first."""
    query = select(PeerNotice)
    if status is not None:
        query = query.where(col(PeerNotice.status) == status)
    if since is not None:
        query = query.where(col(PeerNotice.created_at) >= since)
    if until is not None:
        query = query.where(col(PeerNotice.created_at) < until)
    return list((await uow.session.exec(
        query.order_by(col(PeerNotice.created_at).desc(), col(PeerNotice.id)).limit(limit))
                 ).all())


async def known_to_and_notices(uow: UnitOfWork, referral: Referral
                               ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The peer hub a referral came from (with its reference there), and what peer hubs
    were told of it: for the referral's full view."""
    sender = await peer_of_agency(uow, referral.referring_agency_id)
    known_to = None if sender is None else {
        "peer_hub_id": sender.id, "name": sender.name, "la_code": sender.la_code,
        "their_reference": referral.external_reference}
    notices = await notices_of_referral(uow, referral.id)
    names = {p.id: p.name for p in await all_peers(uow)} if notices else {}
    return known_to, [{"id": n.id, "peer_hub": names.get(n.peer_hub_id), "kind": n.kind,
                       "status": n.status, "legal_basis": n.legal_basis, "reason": n.reason,
                       "their_reference": n.remote_reference,
                       "delivered_at": n.delivered_at.isoformat() if n.delivered_at else None}
                      for n in notices]


async def exchange_figures(uow: UnitOfWork, *, since: datetime | None,
                           until: datetime | None) -> list[dict[str, Any]]:
    """Per peer hub, over the period: notices sent, delivered, waiting, dead, decisions not
    to share, and the median time from the referral's commit to the peer's acceptance."""
    query = select(PeerNotice.peer_hub_id, PeerNotice.status, PeerNotice.committed_at,
                   PeerNotice.delivered_at)
    if since is not None:
        query = query.where(col(PeerNotice.created_at) >= since)
    if until is not None:
        query = query.where(col(PeerNotice.created_at) < until)
    rows = (await uow.session.exec(query)).all()
    names = {p.id: p for p in await all_peers(uow)}
    figures: dict[str, dict[str, Any]] = {}
    waits: dict[str, list[float]] = {}
    for peer_id, status, committed_at, delivered_at in rows:
        line = figures.setdefault(peer_id, {
            "peer_hub_id": peer_id, "name": names[peer_id].name if peer_id in names else None,
            "la_code": names[peer_id].la_code if peer_id in names else None,
            "sent": 0, "delivered": 0, "pending": 0, "dead": 0, "not_shared": 0,
            "median_seconds_to_deliver": None})
        line[status] = line.get(status, 0) + 1
        if status != NoticeStatus.NOT_SHARED:
            line["sent"] += 1
        if delivered_at is not None and committed_at is not None:
            waits.setdefault(peer_id, []).append((delivered_at - committed_at).total_seconds())
    for peer_id, values in waits.items():
        ordered = sorted(values)
        middle = len(ordered) // 2
        figures[peer_id]["median_seconds_to_deliver"] = round(
            ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2,
            3)
    return sorted(figures.values(), key=lambda line: str(line["name"]))
