"""Referral domain logic: no HTTP here, and the caller's unit of work commits."""

from __future__ import annotations

from sqlmodel import select

from services.referral import events
from services.referral.models import ReferenceCounter, Referral, ReferralSubject
from services.referral.schemas import ReferralCreate
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.outbox import add_to_outbox


def referral_path(referral_id: str) -> str:
    """The public path of one referral."""
    return f"/api/v1/referrals/{referral_id}"


async def next_reference(uow: UnitOfWork, year: int) -> str:
    """The next human-readable reference of ``year``, e.g. ``MASH-2026-000123``.

    One upsert: concurrent first referrals of a year cannot both insert the counter.
    """
    statement = (
        uow.insert(ReferenceCounter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=["year"],
            set_={"last_number": ReferenceCounter.last_number + 1},
        )
        .returning(ReferenceCounter.last_number)
    )
    number = (await uow.session.exec(statement)).scalar_one()
    return f"MASH-{year}-{number:06d}"


async def submit_referral(uow: UnitOfWork, body: ReferralCreate, submitter: Principal) -> Referral:
    """Store a new referral and its subjects, and stage `mash.referral.received`, in one
    transaction. The referring agency is the caller's, whatever the body says."""
    received_at = utcnow()
    referral = Referral(
        source=body.source,
        kind=body.kind,
        immediate_risk=body.immediate_risk,
        concerns=list(body.concerns),
        referrer=body.referrer.model_dump(mode="json", exclude={"agency_id"},
                                          exclude_none=True),
        consent_status=body.consent.status,
        consent_reason=body.consent.reason,
        summary=body.summary,
        external_reference=body.external_reference,
        referring_agency_id=submitter.agency_id,
        submitted_by=submitter.subject,
        reference=await next_reference(uow, received_at.year),
        received_at=received_at,
    )
    uow.session.add(referral)
    for position, subject in enumerate(body.subjects):
        address = subject.address.model_dump(exclude_none=True) if subject.address else None
        uow.session.add(ReferralSubject(
            referral_id=referral.id, position=position,
            **subject.model_dump(exclude={"address"}),
            address=address, postcode=subject.address.postcode if subject.address else None,
        ))
    add_to_outbox(uow, events.referral_received(
        referral.id, referral.reference, referral.status, referral.kind,
        received_at.isoformat(), referral_path(referral.id), referral.referring_agency_id,
    ))
    return referral


async def get_referral(uow: UnitOfWork, referral_id: str) -> Referral | None:
    """One referral by id."""
    result = await uow.session.exec(select(Referral).where(Referral.id == referral_id))
    return result.first()
