"""What callers of the notify service may do, named for what it allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.auth import Principal, RolePermission
from shared.roles import MASH_STAFF, PARTNERS, Role

# Agencies manage their own subscriptions; admins manage every agency's.
SubscriptionManagePermission = RolePermission(
    "manage notification subscriptions", Role.ADMIN, Role.MASH_MANAGER, *PARTNERS)
DeliveryLogReadPermission = RolePermission("read the delivery log", Role.ADMIN, *MASH_STAFF,
                                           *PARTNERS)
DeliveryReplayPermission = RolePermission("replay deliveries", Role.ADMIN)

SubscriptionManager = Annotated[Principal, Depends(SubscriptionManagePermission)]
DeliveryLogReader = Annotated[Principal, Depends(DeliveryLogReadPermission)]
DeliveryReplayer = Annotated[Principal, Depends(DeliveryReplayPermission)]


def is_admin(principal: Principal) -> bool:
    """Admins manage every agency's subscriptions."""
    return principal.has_any_role({Role.ADMIN})


def sees_every_delivery(principal: Principal) -> bool:
    """Admins and MASH staff read the whole delivery log; partners their agency's."""
    return principal.has_any_role({Role.ADMIN, *MASH_STAFF})


def may_hear_manager_events(principal: Principal) -> bool:
    """Only MASH managers (and admins) subscribe to events meant for MASH managers."""
    return principal.has_any_role({Role.ADMIN, Role.MASH_MANAGER})
