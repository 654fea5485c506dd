"""HTTP layer of Operation Encompass: a school reads a police notification about its pupils."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from services.referral.encompass import service as encompass
from services.referral.encompass.schemas import EncompassView, PupilView
from services.referral.links import REFERRALS, encompass_path
from services.referral.referrals.schemas import ReferralLinks
from services.referral.runtime import RuntimeDep
from shared.auth import Principal
from shared.problems import Problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix=REFERRALS, tags=["operation encompass"])
SchoolReader = Annotated[Principal, Depends(encompass.EncompassReadPermission)]


@router.get("/{referral_id}/encompass", response_model=EncompassView,
            responses={404: {"description": "No such notification about your pupils"}})
async def read_encompass_notice(
    referral_id: str, caller: SchoolReader, uow: UnitOfWorkDep, runtime: RuntimeDep,
    purpose: Annotated[str | None, Header(alias="X-Purpose", max_length=100)] = None,
) -> EncompassView:
    """A police notification about your school's pupils (Operation Encompass): the
    pupils (whether each was present, and their voice where known), the police's
    references, the incident's time and place, when and why; every read is audited.
    Only police referrals with a domestic abuse concern (or another the hub names)."""
    notice = await encompass.read_notice(uow, referral_id, caller, purpose or encompass.PURPOSE,
                                         runtime.calendar.settings.encompass_concerns)
    if notice is None:
        raise Problem(404, "No such notification about your pupils.")
    referral = notice.referral
    return EncompassView.of(
        referral, pupils=[PupilView.model_validate(p.model_dump()) for p in notice.pupils],
        links=ReferralLinks(self=encompass_path(referral.id)))
