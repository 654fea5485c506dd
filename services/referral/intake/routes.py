"""POST /api/v1/referrals: a partner submits a referral."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from services.referral.deps import IdempotencyKeyHeader
from services.referral.intake import idempotency
from services.referral.intake import writer as intake
from services.referral.intake.sources import agency_kind_of, on_behalf
from services.referral.links import REFERRALS
from services.referral.permissions import (
    ReferralSubmitter,
)
from services.referral.referrals.schemas import (
    ReferralCreate,
    ReferralReceipt,
)
from services.referral.runtime import RuntimeDep
from shared.problems import Problem
from shared.tracing import request_id_var

router = APIRouter(prefix=REFERRALS, tags=["referrals"])


@router.post("", status_code=201, response_model=ReferralReceipt, responses={
    409: {"description": "The first request with this Idempotency-Key is still in flight"},
    422: {"description": "Invalid body, or an Idempotency-Key reused with another body"}})
async def submit_referral(body: ReferralCreate, caller: ReferralSubmitter, runtime: RuntimeDep,
                          request: Request,
                          idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Submit a referral (or an information-only notification); the hub acknowledges it
    with a reference. Send an Idempotency-Key to retry safely after a timeout."""
    kind = await agency_kind_of(runtime.intake.database, caller)
    recorded_for_another = on_behalf(body.source, caller, kind)
    fingerprint = None
    if idempotency_key is not None:
        fingerprint = idempotency.fingerprint(await request.json())
    outcome = await runtime.intake.submit(intake.Submission(
        body, caller, idempotency_key, fingerprint, request_id_var.get(),
        on_behalf=recorded_for_another))
    if isinstance(outcome, intake.Created):
        return _created(outcome.answer)
    if isinstance(outcome, idempotency.Replay):
        return _created(outcome.body, replayed=True)
    if isinstance(outcome, idempotency.InFlight):
        raise Problem(409, "A request with this Idempotency-Key is still being handled; "
                           "retry shortly.", title="Request in flight")
    raise Problem(422, "This Idempotency-Key was used for a different request body.",
                  title="Idempotency-Key reused",
                  errors=[{"loc": ["header", "Idempotency-Key"],
                           "msg": "already used with another body"}])


def _created(body: str, *, replayed: bool = False) -> Response:
    location = json.loads(body)["links"]["self"]
    headers = {"Location": location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status_code=201, media_type="application/json", headers=headers)
