"""Missing episodes as the police and MASH staff record and read them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from services.referral.identifiers import normalise_nhs_number, normalise_postcode
from services.referral.intelligence.missing import REPEAT_EPISODES
from services.referral.intelligence.models import MissingEpisode
from services.referral.links import missing_episode_path, person_path
from shared.pagination import PageLinks
from shared.schemas import Schema, StrictStripped


class MissingChild(StrictStripped):
    """The child, when their person id is not known: matched to the person index."""

    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    date_of_birth: date | None = None
    sex: str | None = Field(default=None, pattern="^[FMU]$")
    nhs_number: Annotated[str, AfterValidator(normalise_nhs_number)] | None = Field(
        default=None, max_length=13)
    postcode: Annotated[str, AfterValidator(normalise_postcode)] | None = Field(
        default=None, max_length=10)

    @model_validator(mode="after")
    def _identifiable(self) -> Self:
        if not (self.nhs_number or (self.family_name and self.date_of_birth)):
            raise ValueError("give an NHS number, or a family name and date of birth")
        return self


class MissingEpisodeCreate(StrictStripped):
    """A child missing from home or care: who (``person_id`` or ``subject``), since
    when, and when and where they were found, if they have been."""

    person_id: str | None = Field(default=None, max_length=36)
    subject: MissingChild | None = None
    went_missing_at: AwareDatetime
    returned_at: AwareDatetime | None = None
    found_at_place: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _who(self) -> Self:
        if (self.person_id is None) == (self.subject is None):
            raise ValueError("give person_id or subject (one of them)")
        return self


class MissingEpisodeChange(StrictStripped):
    """The child's return, where they were found, or the return interview held."""

    returned_at: AwareDatetime | None = None
    found_at_place: str | None = Field(default=None, min_length=1, max_length=200)
    return_interview_at: AwareDatetime | None = None


class MissingEpisodeView(Schema):
    """An episode with its return interview's deadline and the child's flag."""

    id: str
    person_id: str | None
    subject: dict[str, Any] | None
    went_missing_at: datetime
    returned_at: datetime | None
    found_at_place: str | None
    return_interview_due_at: datetime | None
    return_interview_at: datetime | None
    return_interview_overdue: bool
    episodes_in_90_days: int = Field(description="the child's episodes begun in 90 days")
    repeatedly_missing: bool = Field(description="three or more episodes in 90 days")
    recorded_by: str
    agency_id: str
    recorded_at: datetime
    links: dict[str, str]


class MissingEpisodePage(Schema):
    """One page of episodes, the latest first."""

    items: list[MissingEpisodeView]
    next: str | None = None
    links: PageLinks


def episode_view(episode: MissingEpisode, counts: dict[str, int],
                 now: datetime) -> MissingEpisodeView:
    """An episode as shown; ``counts`` each person's episodes in 90 days."""
    count = counts.get(episode.person_id, 0) if episode.person_id else 0
    due = episode.return_interview_due_at
    links = {"self": missing_episode_path(episode.id)}
    if episode.person_id:
        links["person"] = person_path(episode.person_id)
    return MissingEpisodeView(
        id=episode.id, person_id=episode.person_id, subject=episode.subject,
        went_missing_at=episode.went_missing_at, returned_at=episode.returned_at,
        found_at_place=episode.found_at_place, return_interview_due_at=due,
        return_interview_at=episode.return_interview_at,
        return_interview_overdue=episode.return_interview_at is None and due is not None
        and due <= now,
        episodes_in_90_days=count, repeatedly_missing=count >= REPEAT_EPISODES,
        recorded_by=episode.recorded_by, agency_id=episode.agency_id,
        recorded_at=episode.recorded_at, links=links)
