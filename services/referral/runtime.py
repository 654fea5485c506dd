"""What the referral service's requests share, made once in its factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.referral.intake.writer import IntakeWriter
from services.referral.peers.runtime import PeerRuntime
from services.referral.workflow.working_time import WorkingCalendar
from shared.service import runtime_dependency


@dataclass(frozen=True)
class ReferralRuntime:
    """The hub's working calendar (deadlines) and the writer that group-commits intake."""

    calendar: WorkingCalendar
    intake: IntakeWriter
    peers: PeerRuntime | None = None  # peer hubs' keys and URL guard
    audit_key: bytes | None = None  # the seals' key, to verify the audit chain's seals


RuntimeDep = Annotated[ReferralRuntime, Depends(runtime_dependency(ReferralRuntime))]
