"""What the referral service's requests share, made once in its factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.referral.intake.writer import IntakeWriter
from services.referral.workflow.working_time import WorkingCalendar


@dataclass(frozen=True)
class ReferralRuntime:
    """The hub's working calendar (deadlines) and the writer that group-commits intake."""

    calendar: WorkingCalendar
    intake: IntakeWriter


async def get_runtime(request: Request) -> ReferralRuntime:
    """The runtime of the referral service handling this request."""
    runtime: ReferralRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ReferralRuntime, Depends(get_runtime)]
