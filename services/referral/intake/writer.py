"""Group commit of intake: the referrals submitted at the same moment written together.

Each POST validates its body, then hands it to its database's ``IntakeWriter`` and waits.
The writer takes every submission waiting at that moment (at most ``MAX_BATCH``) and
writes them one after the other in one transaction: one BEGIN, one COMMIT, one turn at
SQLite's write lock, one claim of the audit chain's head, one INSERT per table and one
read of the Idempotency-Keys for the lot, instead of one each. Each submission is still
done in full (referral, subjects, person index, chronology, audit entry, outbox event,
Idempotency-Key), in arrival order; a later one is matched and flagged against the
earlier ones of its batch (``service.IntakeBatch``) as if they were written, so a child
referred twice in one batch is one person. Nobody is answered before the commit.

If the batch fails, every submission in it is written again alone, in a transaction of
its own, so one that cannot be written fails alone and the others are not lost. A key
first used at the same moment in another replica makes this batch's INSERT of it fail;
written again alone, the submission then replays that replica's answer. A submission
whose caller has gone away (a client timeout) is still written: its Idempotency-Key then
replays the answer to the retry.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services.referral.intake import idempotency, service
from services.referral.intake.models import IdempotencyKey
from services.referral.referrals.models import Referral
from services.referral.referrals.schemas import ReferralCreate, ReferralReceipt
from services.referral.settings import HubSettings
from services.referral.workflow.working_time import WorkingCalendar
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.tracing import request_id_var

log = logging.getLogger(__name__)

# Submissions written in one transaction at most: bounds how long the first of them waits
# and how long SQLite's write lock is held at a time.
MAX_BATCH = 32


@dataclass(frozen=True)
class Submission:
    """A validated referral, who sent it, and its Idempotency-Key (if any)."""

    body: ReferralCreate
    caller: Principal
    key: str | None = None
    fingerprint: str | None = None
    request_id: str | None = None
    on_behalf: bool = False  # MASH staff recording another kind of referrer's referral


@dataclass(frozen=True)
class Created:
    """The referral was stored; ``answer`` is the receipt as sent (JSON)."""

    referral: Referral
    answer: str


Outcome = Created | idempotency.Replay | idempotency.InFlight | idempotency.Mismatch


def receipt(referral: Referral) -> ReferralReceipt:
    """What the sender is told: id, reference, status, time of receipt, link."""
    return ReferralReceipt.of(referral)


@dataclass(frozen=True)
class IntakeRules:
    """What every submission is written with: the hub's calendar (its deadlines) and the
    purge of expired Idempotency-Keys."""

    calendar: WorkingCalendar
    expired_keys: idempotency.ExpiredKeys


async def write(uow: UnitOfWork, submission: Submission, batch: service.IntakeBatch,
                held: set[tuple[str, str]], answered: dict[tuple[str, str], tuple[str, str]],
                rules: IntakeRules) -> Outcome:
    """One submission of a batch: its key checked, the referral staged in ``batch``, and
    a new key kept with its answer.

    ``held``: the batch's keys already in the database (those go through
    ``idempotency.claim_in``); ``answered``: the keys used earlier in this batch, with
    their fingerprint and answer.
    """
    token = request_id_var.set(submission.request_id)
    try:
        caller, key, print_ = submission.caller, submission.key, submission.fingerprint
        taken = (caller.subject, key) if key is not None and print_ is not None else None
        if taken is not None and print_ is not None:
            if taken in answered:
                first_print, first_answer = answered[taken]
                if first_print != print_:
                    return idempotency.Mismatch()
                return idempotency.Replay(201, first_answer)
            if taken in held:
                claim = await idempotency.claim_in(uow, caller.subject, taken[1], print_,
                                                   rules.expired_keys)
                if not isinstance(claim, idempotency.Claimed):
                    return claim
        referral = await service.submit_referral(uow, submission.body, caller,
                                                 rules.calendar, batch=batch,
                                                 on_behalf=submission.on_behalf)
        answer = receipt(referral).model_dump_json()
        if taken is not None and print_ is not None:
            answered[taken] = (print_, answer)
            if taken in held:
                await idempotency.complete(uow, caller.subject, taken[1], 201, answer,
                                           referral.id)
            else:
                batch.rows.add(IdempotencyKey, **idempotency.kept_row(
                    caller.subject, taken[1], print_, 201, answer, referral.id))
        return Created(referral, answer)
    finally:
        request_id_var.reset(token)


async def write_all(uow: UnitOfWork, submissions: list[Submission],
                    rules: IntakeRules) -> list[Outcome]:
    """The submissions, one after the other, in the caller's transaction."""
    batch = service.IntakeBatch()
    await batch.prefetch(uow, [s.body for s in submissions])
    held = await idempotency.known_keys(uow, [(s.caller.subject, s.key) for s in submissions
                                              if s.key is not None], rules.expired_keys)
    answered: dict[tuple[str, str], tuple[str, str]] = {}
    outcomes = [await write(uow, submission, batch, held, answered, rules)
                for submission in submissions]
    await batch.write(uow)
    return outcomes


Pending = tuple[Submission, "asyncio.Future[Outcome]"]


class IntakeWriter:
    """Writes its database's submissions in batches, one batch at a time."""

    def __init__(self, database: Database, calendar: WorkingCalendar | None = None,
                 max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self.rules = IntakeRules(calendar or WorkingCalendar(HubSettings()),
                                 idempotency.ExpiredKeys())
        self.max_batch = max_batch
        self._waiting: list[Pending] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # written batches, for tests and metrics

    async def submit(self, submission: Submission) -> Outcome:
        """Queue the submission and wait until it is committed (or has failed)."""
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((submission, done))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="referral-intake")
        # Shielded: a caller that goes away does not cancel its submission's write.
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        batch: list[Pending] = []
        try:
            await asyncio.sleep(0)  # let the requests that are ready queue up first
            while self._waiting:
                batch, self._waiting = (self._waiting[:self.max_batch],
                                        self._waiting[self.max_batch:])
                await self._write(batch)
                batch = []
        except BaseException as exc:  # cancelled (shutting down): nobody waits forever
            stopped = RuntimeError("referral intake stopped")
            stopped.__cause__ = exc
            for _, done in batch + self._waiting:
                _fail(done, stopped)
            self._waiting = []
            raise

    async def _write(self, batch: list[Pending]) -> None:
        try:
            async with self.database.unit_of_work() as uow:
                outcomes = await write_all(uow, [submission for submission, _ in batch],
                                           self.rules)
                await uow.commit()
        except Exception:
            if len(batch) > 1:
                log.warning("intake batch of %d failed; writing each alone", len(batch),
                            exc_info=True)
            for pending in batch:
                await self._write_alone(pending)
            return
        self.batches += 1
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            _resolve(done, outcome)

    async def _write_alone(self, pending: Pending) -> None:
        submission, done = pending
        try:
            async with self.database.unit_of_work() as uow:
                (outcome,) = await write_all(uow, [submission], self.rules)
                await uow.commit()
        except Exception as exc:  # the caller gets it, as if it had written alone
            _fail(done, exc)
            return
        self.batches += 1
        _resolve(done, outcome)


def _resolve(done: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not done.done():
        done.set_result(outcome)


def _fail(done: asyncio.Future[Outcome], exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)
