"""What callers of the referral service may do, named for what it allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.auth import Principal, RolePermission
from shared.roles import MASH_STAFF, PARTNERS

ReferralSubmitPermission = RolePermission("submit referrals", *MASH_STAFF, *PARTNERS)

ReferralSubmitter = Annotated[Principal, Depends(ReferralSubmitPermission)]
