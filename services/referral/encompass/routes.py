"""HTTP layer of Operation Encompass: a school reads a police notification about its pupils."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from services.referral.encompass import service as encompass
from services.referral.encompass.schemas import (
    Acknowledgement,
    EncompassInbox,
    EncompassInboxItem,
    EncompassView,
    IncidentView,
    PupilName,
    PupilView,
)
from services.referral.links import ENCOMPASS_NOTICES, REFERRALS, encompass_path
from services.referral.referrals.schemas import ReferralLinks
from services.referral.runtime import RuntimeDep
from shared.auth import Principal
from shared.events import utcnow
from shared.problems import Problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix=REFERRALS, tags=["operation encompass"])
inbox = APIRouter(prefix=ENCOMPASS_NOTICES, tags=["operation encompass"])
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


def _incident(data: dict[str, object] | None) -> IncidentView | None:
    return IncidentView.model_validate(data) if data else None


@inbox.get("", response_model=EncompassInbox)
async def encompass_inbox(caller: SchoolReader, uow: UnitOfWorkDep,
                          runtime: RuntimeDep) -> EncompassInbox:
    """Your school's Operation Encompass inbox: the newest police notifications about your
    pupils (at most 100), each with whether your school has read it. Audited."""
    items = await encompass.inbox(uow, caller, runtime.calendar.settings.encompass_concerns)
    await uow.commit()
    lines = [EncompassInboxItem(
        referral_id=item.referral.id, reference=item.referral.reference,
        received_at=item.referral.received_at, incident=_incident(item.referral.incident),
        pupils=[PupilName(given_name=p.given_name, family_name=p.family_name)
                for p in item.pupils],
        acknowledgement=Acknowledgement.model_validate(item.acknowledgement.model_dump())
        if item.acknowledgement else None,
        links=ReferralLinks(self=encompass_path(item.referral.id))) for item in items]
    return EncompassInbox(items=lines,
                          unread=sum(1 for line in lines if line.acknowledgement is None))


@inbox.post("/{referral_id}/read", response_model=Acknowledgement,
            responses={404: {"description": "No such notification about your pupils"}})
async def acknowledge_encompass_notice(referral_id: str, caller: SchoolReader,
                                       uow: UnitOfWorkDep, runtime: RuntimeDep
                                       ) -> Acknowledgement:
    """Record that your school has read this notification (the board's figures count
    acknowledgements and how long they took). The first acknowledgement stands: sending
    it again answers with the same one."""
    found = await encompass.acknowledge(uow, referral_id, caller, utcnow(),
                                        runtime.calendar.settings.encompass_concerns)
    if found is None:
        raise Problem(404, "No such notification about your pupils.")
    answer = Acknowledgement.model_validate(found.model_dump())
    await uow.commit()
    return answer
