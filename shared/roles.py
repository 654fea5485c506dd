"""The roles of the public contract; every service authorises by role and agency."""

from enum import StrEnum


class Role(StrEnum):
    """What a user or API client may do, together with its agency."""

    MASH_PRACTITIONER = "mash_practitioner"
    MASH_MANAGER = "mash_manager"
    PARTNER_PRACTITIONER = "partner_practitioner"
    PARTNER_SYSTEM = "partner_system"
    ADMIN = "admin"
    AUDITOR = "auditor"
    BOARD_MEMBER = "board_member"  # the safeguarding partnership's board: aggregates only


MASH_STAFF = frozenset({Role.MASH_PRACTITIONER, Role.MASH_MANAGER})
PARTNERS = frozenset({Role.PARTNER_PRACTITIONER, Role.PARTNER_SYSTEM})
