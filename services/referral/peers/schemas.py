"""Peer hubs and notices as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, HttpUrl

from services.referral.peers.models import PeerHub, PeerNotice
from shared.schemas import Schema, StrictStripped

LA_CODE = r"^[0-9]{3}$"


class PeerHubCreate(StrictStripped):
    """Another MASH hub: who it is, where, and the client id this hub was given there."""

    name: str = Field(min_length=1, max_length=200)
    la_code: str = Field(pattern=LA_CODE, description="its local authority's DfE code")
    base_url: HttpUrl = Field(description="its public origin, e.g. https://mash.example.gov.uk")
    client_id: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._-]+$",
                           description="the partner system id this hub has at the peer")
    agency_id: str | None = Field(
        default=None, max_length=36,
        description="the agency of the peer's own partner system here: its notices are "
                    "then shown as known to it, and not sent back to it")


class PeerHubChange(StrictStripped):
    """Stop or resume notices to a peer hub."""

    active: bool


class PeerHubView(Schema):
    """A peer hub; ``jwks_uri`` is what the peer registers this hub's partner system with
    (``private_key_jwt``, algorithm ES256)."""

    id: str
    name: str
    la_code: str
    base_url: str
    client_id: str
    agency_id: str | None
    active: bool
    jwks_uri: str
    created_at: datetime

    @classmethod
    def of(cls, peer: PeerHub, origin: str) -> PeerHubView:
        """The view of ``peer`` on a hub whose public origin is ``origin``."""
        return cls(id=peer.id, name=peer.name, la_code=peer.la_code, base_url=peer.base_url,
                   client_id=peer.client_id, agency_id=peer.agency_id, active=peer.active,
                   jwks_uri=f"{origin}/api/v1/peer-hubs/{peer.id}/jwks.json",
                   created_at=peer.created_at)


class PeerHubList(Schema):
    """Every registered peer hub."""

    items: list[PeerHubView]


class NoticeView(Schema):
    """A line of the sharing ledger: a notice to a peer hub, or a decision not to share.
    No names, no narrative."""

    id: str
    peer_hub_id: str
    peer_hub: str | None = None
    referral_id: str
    kind: str
    status: str
    legal_basis: str | None
    reason: str | None
    shares_summary: bool
    decided_by: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    dead_reason: str | None
    their_reference: str | None

    @classmethod
    def of(cls, notice: PeerNotice, peer_name: str | None) -> NoticeView:
        """The ledger's view of ``notice``."""
        return cls(id=notice.id, peer_hub_id=notice.peer_hub_id, peer_hub=peer_name,
                   referral_id=notice.referral_id, kind=notice.kind, status=notice.status,
                   legal_basis=notice.legal_basis, reason=notice.reason,
                   shares_summary=notice.shares_summary, decided_by=notice.decided_by,
                   created_at=notice.created_at, delivered_at=notice.delivered_at,
                   attempt_count=notice.attempt_count,
                   last_status_code=notice.last_status_code, last_error=notice.last_error,
                   dead_reason=notice.dead_reason, their_reference=notice.remote_reference)


class RequestLine(Schema):
    """An information request as the ledger shows it: who was asked, under what basis."""

    id: str
    referral_id: str
    agency_id: str
    legal_basis: str | None
    status: str
    created_at: datetime


class ExchangeFigures(Schema):
    """Notices exchanged with one peer hub over the period, and how fast it accepted them."""

    peer_hub_id: str
    name: str | None
    la_code: str | None
    sent: int
    delivered: int
    pending: int
    dead: int
    not_shared: int
    median_seconds_to_deliver: float | None = Field(
        description="from the referral's event to the peer's acceptance")


class Ledger(Schema):
    """The sharing ledger, newest first: notices to peer hubs and decisions not to share
    (``items``), and, on the ledger endpoint, information requests to partners and the
    figures per peer hub."""

    items: list[NoticeView]
    information_requests: list[RequestLine] = Field(default_factory=list)
    figures: list[ExchangeFigures] = Field(default_factory=list)


class ShareDecision(StrictStripped):
    """Share a referral with a peer hub now (with the referrer's account if chosen), or
    record a decision not to share and why; either way under a stated legal basis."""

    peer_hub_id: str = Field(max_length=36)
    share: bool
    share_summary: bool = Field(default=False,
                                description="send the referrer's account and the decision's "
                                            "reasons too")
    legal_basis: str | None = Field(default=None, min_length=3, max_length=200,
                                    description="default: Children Act 2004 s11 / DPA 2018 "
                                                "Sch 8")
    reason: str | None = Field(default=None, min_length=3, max_length=2000,
                               description="required when not sharing")


class KnownTo(Schema):
    """The peer hub a referral came from, and its reference there."""

    peer_hub_id: str
    name: str
    la_code: str
    their_reference: str | None
