"""Human-readable references stay unique when referrals arrive at the same moment."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.referral.app import create_service
from services.referral.audit.service import verify_chain
from services.referral.intake.service import submit_referral
from services.referral.referrals.schemas import ReferralCreate
from shared.auth import Principal
from shared.broker.memory import InProcessBroker
from shared.settings import Settings
from tests.bodies import referral_body

POLICE_SYSTEM = Principal(subject="police-system", agency_id="police-agency",
                          roles=frozenset({"partner_system"}), kind="client", token_id="t-1")


async def test_concurrent_referrals_get_consecutive_references_and_one_audit_chain(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, referral_database_url=database_url)
    service = create_service(settings, InProcessBroker())
    await service.migrate()

    async def submit() -> str:
        async with service.database.unit_of_work() as uow:
            body = ReferralCreate.model_validate(referral_body())
            referral = await submit_referral(uow, body, POLICE_SYSTEM)
            await uow.commit()
            return referral.reference

    try:
        references = await asyncio.gather(*(submit() for _ in range(8)))
        async with service.database.unit_of_work() as uow:
            audited, problems = await verify_chain(uow)
    finally:
        await service.database.dispose()
    assert audited == 8 and problems == [], "one unbroken audit chain despite concurrency"
    numbers = sorted(int(reference.rsplit("-", 1)[1]) for reference in references)
    assert numbers == list(range(1, 9))
