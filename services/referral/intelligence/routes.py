"""HTTP layer of pattern alerts (MASH staff). Partners pass the role check and get 404:
they do not learn whether an alert exists."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.referral.deps import IfMatch, PurposeHeader
from services.referral.intelligence import missing, screening, service
from services.referral.intelligence.missing_schemas import (
    MissingEpisodeChange,
    MissingEpisodeCreate,
    MissingEpisodePage,
    MissingEpisodeView,
    episode_view,
)
from services.referral.intelligence.models import MissingEpisode
from services.referral.intelligence.schemas import (
    AlertDecision,
    AlertPage,
    AlertStatus,
    AlertView,
    ScreeningCreate,
    ScreeningView,
    alert_view,
    screening_view,
)
from services.referral.links import ALERTS, MISSING_EPISODES, REFERRALS, missing_episode_path
from services.referral.permissions import MashWorker, ReferralReader
from services.referral.runtime import RuntimeDep
from services.referral.workflow import service as workflow
from shared.events import utcnow
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    aware_datetime,
    page_of,
    read_cursor,
)
from shared.problems import Problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix=ALERTS, tags=["alerts"])
screenings = APIRouter(prefix=REFERRALS, tags=["screenings"])
NOT_FOUND: dict[int | str, dict[str, str]] = {
    404: {"description": "No such alert, or you are not MASH staff"}}


@router.get("", response_model=AlertPage, responses=NOT_FOUND)
async def list_alerts(
    caller: ReferralReader, uow: UnitOfWorkDep, request: Request,
    status: AlertStatus | None = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    purpose: PurposeHeader = None,
) -> AlertPage:
    """Pattern alerts, latest evidence first (`status=open` for the work queue): the same
    adult, vehicle, place, phone number or online account in referrals about different
    children, each with its evidence. Audited."""
    after = read_cursor(cursor, aware_datetime, str)
    found = await service.list_alerts(uow, caller, status, after, limit + 1,
                                      purpose or "triage")
    page, links = page_of(found, limit, request.url, lambda a: (a.updated_at, a.id))
    items = [alert_view(await service.alert_file(uow, alert)) for alert in page]
    return AlertPage(items=items, next=links.next, links=links)


@router.get("/{alert_id}", response_model=AlertView, responses=NOT_FOUND)
async def read_alert(alert_id: str, caller: ReferralReader, uow: UnitOfWorkDep,
                     response: Response, purpose: PurposeHeader = None) -> AlertView:
    """One alert: the value, the referrals and children it was seen in, and for an adult
    how each referral's subject was matched to the person (weights per field). Audited."""
    found = await service.read_alert(uow, alert_id, caller, purpose or "triage")
    response.headers["ETag"] = service.etag(found.alert)
    return alert_view(found)


@router.post("/{alert_id}", response_model=AlertView, responses={
    **NOT_FOUND, 412: {"description": "The alert changed since you read it"}})
async def decide_alert(alert_id: str, body: AlertDecision, caller: ReferralReader,
                       uow: UnitOfWorkDep, response: Response,
                       if_match: IfMatch = None) -> AlertView:
    """Confirm or dismiss an alert with a reason. A dismissed alert does not come back
    for the same evidence; a new referral with the same value reopens it."""
    found = await service.decide(uow, alert_id, caller, body.decision, body.reason, if_match)
    response.headers["ETag"] = service.etag(found.alert)
    return alert_view(found)


@screenings.post("/{referral_id}/screenings", response_model=ScreeningView, status_code=201,
                 responses={404: {"description": "No such referral"},
                            412: {"description": "The referral changed since you read it"},
                            428: {"description": "If-Match required"}})
async def screen_referral(referral_id: str, body: ScreeningCreate, caller: MashWorker,
                          uow: UnitOfWorkDep, runtime: RuntimeDep, response: Response,
                          if_match: IfMatch = None) -> ScreeningView:
    """A structured screening (the first tool: `cse`): indicators by category, weighted;
    the computed level, and the level recorded (another needs a `reason`). The level is
    shown on the referral and in the queue; a high level makes the referral red unless
    the hub has turned that off. Send If-Match with the referral's ETag."""
    referral = await workflow.load_for_change(uow, referral_id, if_match)
    done = await screening.screen(uow, referral, caller, body.tool, body.answers, body.level,
                                  body.reason, runtime.calendar.settings, runtime.calendar)
    response.headers["ETag"] = workflow.etag(referral)
    return screening_view(done, referral.rag)


tools = APIRouter(prefix="/api/v1/hub", tags=["screenings"])


@tools.get("/screening-tools/{name}", responses={404: {"description": "No such tool"}})
async def screening_tool(name: str, _caller: MashWorker) -> dict[str, Any]:
    """A screening tool's definition, as the hub holds it (data, not code): its categories
    of indicators with their weights, and the thresholds of its levels."""
    if name not in screening.TOOLS:
        raise Problem(404, f"No screening tool called {name!r}.")
    return screening.tool(name).definition


episodes = APIRouter(prefix=MISSING_EPISODES, tags=["missing episodes"])
EPISODE_NOT_FOUND: dict[int | str, dict[str, str]] = {
    404: {"description": "No such episode, or you are neither police nor MASH staff"}}


async def _episode_view(uow: UnitOfWorkDep, episode: MissingEpisode) -> MissingEpisodeView:
    counts = await missing.recent_counts(uow, [episode.person_id] if episode.person_id else [])
    return episode_view(episode, counts, utcnow())


@episodes.get("", response_model=MissingEpisodePage, responses=EPISODE_NOT_FOUND)
async def list_missing_episodes(
    caller: ReferralReader, uow: UnitOfWorkDep, request: Request,
    person_id: Annotated[str | None, Query(max_length=36)] = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    purpose: PurposeHeader = None,
) -> MissingEpisodePage:
    """Missing episodes, the latest first (`person_id` for one child's), each with its
    return interview's deadline and whether the child has gone missing three or more
    times in 90 days. Police and MASH staff; audited."""
    after = read_cursor(cursor, aware_datetime, str)
    found = await missing.list_episodes(uow, caller, person_id, after, limit + 1,
                                        purpose or "triage")
    page, links = page_of(found, limit, request.url, lambda e: (e.went_missing_at, e.id))
    counts = await missing.recent_counts(uow, [e.person_id for e in page if e.person_id])
    now = utcnow()
    return MissingEpisodePage(items=[episode_view(e, counts, now) for e in page],
                              next=links.next, links=links)


@episodes.post("", response_model=MissingEpisodeView, status_code=201,
               responses=EPISODE_NOT_FOUND)
async def record_missing_episode(body: MissingEpisodeCreate, caller: ReferralReader,
                                 uow: UnitOfWorkDep, runtime: RuntimeDep,
                                 response: Response) -> MissingEpisodeView:
    """Record a child missing from home or care. The return interview is due 72 hours
    after the return (`mash.missing_episode.return_interview_overdue` once if not held);
    the place the child was found at counts towards place alerts."""
    episode = await missing.record(
        uow, caller, body.person_id, body.subject.model_dump(mode="json") if body.subject
        else None, body.went_missing_at, body.returned_at, body.found_at_place,
        runtime.calendar.settings)
    response.headers["Location"] = missing_episode_path(episode.id)
    return await _episode_view(uow, episode)


@episodes.get("/{episode_id}", response_model=MissingEpisodeView, responses=EPISODE_NOT_FOUND)
async def read_missing_episode(episode_id: str, caller: ReferralReader, uow: UnitOfWorkDep,
                               purpose: PurposeHeader = None) -> MissingEpisodeView:
    """One missing episode; audited."""
    episode = await missing.read(uow, caller, episode_id, purpose or "triage")
    return await _episode_view(uow, episode)


@episodes.post("/{episode_id}", response_model=MissingEpisodeView,
               responses=EPISODE_NOT_FOUND)
async def change_missing_episode(episode_id: str, body: MissingEpisodeChange,
                                 caller: ReferralReader, uow: UnitOfWorkDep,
                                 runtime: RuntimeDep) -> MissingEpisodeView:
    """Record the child's return, where they were found, or the return interview."""
    episode = await missing.update_episode(uow, caller, episode_id,
                                           body.model_dump(exclude_unset=True),
                                           runtime.calendar.settings)
    return await _episode_view(uow, episode)
