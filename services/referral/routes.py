"""HTTP layer of the referral service: parse, call the service, shape the reply."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.referral import service
from services.referral.permissions import ReferralSubmitter
from services.referral.schemas import ReferralCreate, ReferralLinks, ReferralReceipt
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])


@router.post("", status_code=201, response_model=ReferralReceipt)
async def submit_referral(body: ReferralCreate, caller: ReferralSubmitter, uow: UnitOfWorkDep,
                          response: Response) -> ReferralReceipt:
    """Submit a referral; the hub acknowledges it with a reference."""
    referral = await service.submit_referral(uow, body, caller)
    await uow.commit()
    link = service.referral_path(referral.id)
    response.headers["Location"] = link
    return ReferralReceipt(id=referral.id, reference=referral.reference, status=referral.status,
                           received_at=referral.received_at, links=ReferralLinks(self=link))
