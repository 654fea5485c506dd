"""Group commit of intake: referrals submitted together are written in one transaction,
each in full, in order, and one that cannot be written fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, func, select

from services.referral.app import create_service
from services.referral.audit.models import AuditEntry
from services.referral.audit.service import verify_chain
from services.referral.intake import idempotency, service
from services.referral.intake import writer as intake
from services.referral.people.models import SubjectDetails
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.referrals.schemas import ReferralCreate
from shared.auth import Principal
from shared.broker.memory import InProcessBroker
from shared.db import Database
from shared.outbox import OutboxMessage
from shared.service import Service
from shared.settings import Settings
from tests.bodies import referral_body

POLICE = Principal(subject="police-system", agency_id="police-agency",
                   roles=frozenset({"partner_system"}), kind="client", token_id="t-1")


@pytest.fixture
async def referral_service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    running = create_service(Settings(data_dir=tmp_path, referral_database_url=database_url),
                             InProcessBroker())
    await running.migrate()
    try:
        yield running
    finally:
        await running.database.dispose()


def submission(number: int, key: str | None = None, **changes: Any) -> intake.Submission:
    body = referral_body(external_reference=f"NP-BATCH-{number:04d}", **changes)
    return intake.Submission(ReferralCreate.model_validate(body), POLICE, key,
                             idempotency.fingerprint(body) if key else None)


async def count(database: Database, model: type, *where: Any) -> int:
    async with database.unit_of_work() as uow:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int((await uow.session.exec(query)).one())


async def test_referrals_submitted_together_share_a_transaction_and_are_each_complete(
    referral_service: Service,
) -> None:
    writer = intake.IntakeWriter(referral_service.database)
    outcomes = await asyncio.gather(*(writer.submit(submission(n)) for n in range(12)))
    assert all(isinstance(o, intake.Created) for o in outcomes)
    assert writer.batches < 12, "submissions waiting together are written together"
    references = [o.referral.reference for o in outcomes if isinstance(o, intake.Created)]
    assert sorted(int(r.rsplit("-", 1)[1]) for r in references) == list(range(1, 13))
    database = referral_service.database
    assert await count(database, ReferralSubject) == 24
    assert await count(database, SubjectDetails) == 24, "every subject is in the person index"
    received = OutboxMessage.event_type == "mash.referral.received"
    assert await count(database, OutboxMessage, received) == 12
    async with database.unit_of_work() as uow:
        audited, problems = await verify_chain(uow)
        created = (await uow.session.exec(select(AuditEntry.record_id)
                                          .where(AuditEntry.action == "create"))).all()
    assert audited == 12 and problems == []
    assert sorted(created) == sorted(o.referral.id for o in outcomes
                                     if isinstance(o, intake.Created))


async def test_the_reference_counter_is_written_once_more_only_for_a_batch_of_several(
    referral_service: Service,
) -> None:
    """The upsert that claims a year's first number leaves that number in the counter; a
    transaction that gives out more sets the counter to its last one at the end. Numbers
    run on without a gap or a repeat either way."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = referral_service.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        writer = intake.IntakeWriter(referral_service.database)
        given: list[list[int]] = []
        for numbers in ([1], [2, 3, 4], [5]):
            statements.clear()
            outcomes = await asyncio.gather(*(writer.submit(submission(n)) for n in numbers))
            given.append(sorted(int(o.referral.reference.rsplit("-", 1)[1])
                                for o in outcomes if isinstance(o, intake.Created)))
            updates = [s for s in statements if s.startswith("UPDATE reference_counters")]
            assert len(updates) == (1 if len(numbers) > 1 else 0), numbers
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert given == [[1], [2, 3, 4], [5]]


async def test_a_submission_that_cannot_be_written_fails_alone(
    referral_service: Service, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = service.submit_referral

    async def fails_for_one(uow: Any, body: ReferralCreate, *args: Any, **kwargs: Any) -> Any:
        if body.external_reference == "NP-BATCH-0003":
            raise RuntimeError("this one cannot be written")
        return await real(uow, body, *args, **kwargs)

    monkeypatch.setattr(service, "submit_referral", fails_for_one)
    writer = intake.IntakeWriter(referral_service.database)
    outcomes = await asyncio.gather(*(writer.submit(submission(n)) for n in range(6)),
                                    return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and "cannot be written" in str(failed[0])
    assert isinstance(outcomes[3], RuntimeError)
    database = referral_service.database
    assert await count(database, Referral) == 5
    assert await count(database, Referral,
                       col(Referral.external_reference) == "NP-BATCH-0003") == 0
    async with database.unit_of_work() as uow:
        audited, problems = await verify_chain(uow)
    assert audited == 5 and problems == []


async def test_a_child_referred_twice_in_one_batch_is_matched_to_itself(
    referral_service: Service,
) -> None:
    writer = intake.IntakeWriter(referral_service.database)
    first, second = await asyncio.gather(writer.submit(submission(1)),
                                         writer.submit(submission(2)))
    assert isinstance(first, intake.Created) and isinstance(second, intake.Created)
    assert writer.batches == 1
    async with referral_service.database.unit_of_work() as uow:
        children = {d.referral_id: d for d in (await uow.session.exec(
            select(SubjectDetails).where(SubjectDetails.role == "child"))).all()}
        later = await uow.session.get(Referral, second.referral.id)
    assert children[second.referral.id].match_status == "linked"
    assert children[second.referral.id].person_id == children[first.referral.id].person_id
    assert later is not None and later.same_day_as == first.referral.id


async def test_one_key_twice_in_one_batch_gives_one_referral_and_a_replay(
    referral_service: Service,
) -> None:
    writer = intake.IntakeWriter(referral_service.database)
    outcomes = await asyncio.gather(writer.submit(submission(1, key="twice")),
                                    writer.submit(submission(1, key="twice")))
    created = [o for o in outcomes if isinstance(o, intake.Created)]
    replayed = [o for o in outcomes if isinstance(o, idempotency.Replay)]
    assert len(created) == 1 and len(replayed) == 1
    assert replayed[0].body == created[0].answer
    assert await count(referral_service.database, Referral) == 1


async def test_a_submission_whose_caller_has_gone_is_still_written(
    referral_service: Service,
) -> None:
    writer = intake.IntakeWriter(referral_service.database)
    waiting = asyncio.create_task(writer.submit(submission(1, key="gone")))
    await asyncio.sleep(0)
    waiting.cancel()  # the client timed out
    with pytest.raises(asyncio.CancelledError):
        await waiting
    for _ in range(500):
        if writer.batches:
            break
        await asyncio.sleep(0.01)
    assert await count(referral_service.database, Referral) == 1
    again = await writer.submit(submission(1, key="gone"))
    assert isinstance(again, idempotency.Replay), "the retry gets the first answer"


async def test_one_key_at_two_replicas_at_once_gives_one_referral(
    referral_service: Service,
) -> None:
    """Two referral service replicas (two writers) get the same retry at the same moment:
    both see the key as new, the second's INSERT of it fails, and its batch, written again
    alone, replays the first answer."""
    database = referral_service.database
    replicas = [intake.IntakeWriter(database), intake.IntakeWriter(database)]
    outcomes = await asyncio.gather(*(w.submit(submission(1, key="both")) for w in replicas))
    created = [o for o in outcomes if isinstance(o, intake.Created)]
    replayed = [o for o in outcomes if isinstance(o, idempotency.Replay)]
    assert len(created) == 1 and len(replayed) == 1
    assert replayed[0].body == created[0].answer
    assert await count(database, Referral) == 1
    async with database.unit_of_work() as uow:
        audited, problems = await verify_chain(uow)
    assert audited == 1 and problems == []
