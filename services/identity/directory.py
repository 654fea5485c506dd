"""Directories: every active agency's name and kind, for anyone signed in, and staff
names for MASH staff.

MASH staff pick the agency an information request goes to from the agency directory,
and chronologies name who did what from the staff directory. Administration stays at
/api/v1/agencies and /api/v1/users (admins only).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.identity import service
from shared.auth import Principal, RolePermission
from shared.roles import MASH_STAFF, PARTNERS, Role
from shared.schemas import Schema
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["directories"])

DirectoryReadPermission = RolePermission("read the agency directory", *MASH_STAFF, *PARTNERS,
                                         Role.ADMIN, Role.AUDITOR)
DirectoryReader = Annotated[Principal, Depends(DirectoryReadPermission)]
StaffDirectoryReadPermission = RolePermission("read the staff directory", *MASH_STAFF,
                                              Role.ADMIN, Role.AUDITOR)
StaffDirectoryReader = Annotated[Principal, Depends(StaffDirectoryReadPermission)]


class DirectoryEntry(Schema):
    """An agency as every signed-in caller may see it."""

    id: str
    name: str
    kind: str


class StaffEntry(Schema):
    """A member of staff as MASH staff see them in a chronology."""

    id: str
    display_name: str
    agency_id: str


@router.get("/agencies/directory", response_model=list[DirectoryEntry])
async def agency_directory(_: DirectoryReader, uow: UnitOfWorkDep) -> list[DirectoryEntry]:
    """Active agencies, by name: whom an information request can be addressed to."""
    agencies = await service.list_agencies(uow)
    return sorted((DirectoryEntry(id=a.id, name=a.name, kind=a.kind)
                   for a in agencies if a.active), key=lambda a: a.name)


@router.get("/users/directory", response_model=list[StaffEntry])
async def staff_directory(_: StaffDirectoryReader, uow: UnitOfWorkDep) -> list[StaffEntry]:
    """Active staff by name, so a chronology can say who did what (MASH staff)."""
    users = await service.list_users(uow)
    return sorted((StaffEntry(id=u.id, display_name=u.display_name, agency_id=u.agency_id)
                   for u in users if u.active), key=lambda u: u.display_name)
