"""The roles of shared/design/CONTRACT.md."""

from enum import StrEnum


class Role(StrEnum):
    """What a user or API client may do, together with its agency."""

    MASH_PRACTITIONER = "mash_practitioner"
    MASH_MANAGER = "mash_manager"
    PARTNER_PRACTITIONER = "partner_practitioner"
    PARTNER_SYSTEM = "partner_system"
    ADMIN = "admin"
    AUDITOR = "auditor"
