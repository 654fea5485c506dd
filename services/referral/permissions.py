"""What callers of the referral service may do, named for what it allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.auth import Principal, RolePermission
from shared.roles import MASH_STAFF, PARTNERS, Role

ReferralSubmitPermission = RolePermission("submit referrals", *MASH_STAFF, *PARTNERS)
# Which referrals a reader may see is decided per referral (see service.can_read).
ReferralReadPermission = RolePermission("read referrals", *MASH_STAFF, *PARTNERS)
AuditReadPermission = RolePermission("read the audit log", Role.AUDITOR)
BoardReportPermission = RolePermission("read the board's aggregate reports",
                                       Role.BOARD_MEMBER, Role.MASH_MANAGER, Role.AUDITOR)
ReferralWorkPermission = RolePermission(
    "triage, request information on and decide referrals", *MASH_STAFF)
InformationRequestReadPermission = RolePermission("read information requests",
                                                  *MASH_STAFF, *PARTNERS)
InformationRequestAnswerPermission = RolePermission("answer information requests", *PARTNERS)

ReferralSubmitter = Annotated[Principal, Depends(ReferralSubmitPermission)]
ReferralReader = Annotated[Principal, Depends(ReferralReadPermission)]
AuditReader = Annotated[Principal, Depends(AuditReadPermission)]
BoardReader = Annotated[Principal, Depends(BoardReportPermission)]
CensusPermission = RolePermission("extract the CIN census return", Role.MASH_MANAGER,
                                  Role.AUDITOR)
CensusReader = Annotated[Principal, Depends(CensusPermission)]
MashWorker = Annotated[Principal, Depends(ReferralWorkPermission)]
InformationRequestReader = Annotated[Principal, Depends(InformationRequestReadPermission)]
InformationRequestAnswerer = Annotated[Principal, Depends(InformationRequestAnswerPermission)]


def is_mash_staff(principal: Principal) -> bool:
    """MASH staff see every referral of the hub in full."""
    return principal.has_any_role(MASH_STAFF)
