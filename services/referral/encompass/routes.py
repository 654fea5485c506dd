"""HTTP layer of Operation Encompass: a school reads a police notification about its pupils."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from services.referral.encompass import service as encompass
from services.referral.encompass.schemas import EncompassView, PupilView
from services.referral.links import REFERRALS, encompass_path
from services.referral.referrals.schemas import ReferralLinks
from shared.auth import Principal
from shared.problems import Problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix=REFERRALS, tags=["operation encompass"])
SchoolReader = Annotated[Principal, Depends(encompass.EncompassReadPermission)]


@router.get("/{referral_id}/encompass", response_model=EncompassView,
            responses={404: {"description": "No such notification about your pupils"}})
async def read_encompass_notice(
    referral_id: str, caller: SchoolReader, uow: UnitOfWorkDep,
    purpose: Annotated[str | None, Header(alias="X-Purpose", max_length=100)] = None,
) -> EncompassView:
    """A police notification about your school's pupils (Operation Encompass): the
    pupils, the police's references, when and why; every read is audited."""
    notice = await encompass.read_notice(uow, referral_id, caller, purpose or encompass.PURPOSE)
    if notice is None:
        raise Problem(404, "No such notification about your pupils.")
    referral = notice.referral
    return EncompassView.of(
        referral, pupils=[PupilView.model_validate(p.model_dump()) for p in notice.pupils],
        links=ReferralLinks(self=encompass_path(referral.id)))
