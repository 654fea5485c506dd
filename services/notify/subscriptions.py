"""Subscriptions: agencies manage their own endpoints and mailboxes; admins all of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import col, select

from services.notify import events
from services.notify.models import Channel, Subscription
from services.notify.permissions import is_admin, may_hear_manager_events
from services.notify.schemas import SubscriptionCreate, SubscriptionUpdate, SubscriptionView
from services.notify.secret_box import SecretBox
from services.notify.signing import new_webhook_secret
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.problems import Problem
from shared.ssrf import UnsafeUrl, UrlGuard


def view(subscription: Subscription) -> SubscriptionView:
    """The public shape of a subscription."""
    return SubscriptionView.model_validate(
        {**subscription.model_dump(), "event_types": event_types_of(subscription)})


def event_types_of(subscription: Subscription) -> list[str]:
    """The event types a subscription wants."""
    found: list[str] = json.loads(subscription.event_types)
    return found


async def create(uow: UnitOfWork, body: SubscriptionCreate, caller: Principal,
                 guard: UrlGuard, secrets: SecretBox, now: datetime
                 ) -> tuple[Subscription, str | None]:
    """A new subscription for the caller's agency (or, for admins, the one named)."""
    if body.agency_id and body.agency_id != caller.agency_id and not is_admin(caller):
        raise Problem(403, "You may manage only your own agency's subscriptions.",
                      title="Forbidden")
    _check_event_types(body.event_types, caller)
    if body.url:
        await _check_url(body.url, guard)
    secret = new_webhook_secret() if body.channel == Channel.WEBHOOK else None
    subscription = Subscription(
        agency_id=body.agency_id or caller.agency_id, channel=body.channel, url=body.url,
        address=str(body.address) if body.address else None,
        event_types=json.dumps(sorted(set(body.event_types))), active=body.active,
        secret_encrypted=secrets.seal(secret) if secret else None,
        created_at=now, updated_at=now)
    uow.session.add(subscription)
    return subscription, secret


async def visible(uow: UnitOfWork, caller: Principal) -> list[Subscription]:
    """Every subscription the caller may manage, oldest first."""
    query = select(Subscription).order_by(col(Subscription.created_at), col(Subscription.id))
    if not is_admin(caller):
        query = query.where(col(Subscription.agency_id) == caller.agency_id)
    return list((await uow.session.exec(query)).all())


async def get(uow: UnitOfWork, subscription_id: str, caller: Principal) -> Subscription:
    """One subscription the caller may manage; 404 for any other (existence is not told)."""
    subscription = await uow.session.get(Subscription, subscription_id)
    if subscription is None or (subscription.agency_id != caller.agency_id
                                and not is_admin(caller)):
        raise Problem(404, "There is no such subscription.", title="Not found")
    return subscription


async def update(uow: UnitOfWork, subscription: Subscription, body: SubscriptionUpdate,
                 caller: Principal, guard: UrlGuard, now: datetime) -> Subscription:
    """Change a subscription; turning it on again clears why it was disabled."""
    if body.url is not None:
        if subscription.channel != Channel.WEBHOOK:
            raise Problem(422, "Only a webhook subscription has a url.", title="Not valid")
        await _check_url(body.url, guard)
        subscription.url = body.url
    if body.address is not None:
        if subscription.channel != Channel.EMAIL:
            raise Problem(422, "Only an email subscription has an address.",
                          title="Not valid")
        subscription.address = str(body.address)
    if body.event_types is not None:
        _check_event_types(body.event_types, caller)
        subscription.event_types = json.dumps(sorted(set(body.event_types)))
    if body.active is not None:
        subscription.active = body.active
        if body.active:
            subscription.disabled_at = None
            subscription.disabled_reason = None
            subscription.failing_since = None
    subscription.updated_at = now
    uow.session.add(subscription)
    return subscription


def rotate_secret(subscription: Subscription, secrets: SecretBox, now: datetime,
                  grace: timedelta) -> str:
    """A new secret; the old one keeps signing (beside the new) for ``grace``."""
    if subscription.channel != Channel.WEBHOOK or subscription.secret_encrypted is None:
        raise Problem(422, "Only a webhook subscription has a secret.", title="Not valid")
    secret = new_webhook_secret()
    subscription.previous_secret_encrypted = subscription.secret_encrypted
    subscription.previous_secret_expires_at = now + grace
    subscription.secret_encrypted = secrets.seal(secret)
    subscription.updated_at = now
    return secret


def _check_event_types(event_types: Sequence[str], caller: Principal) -> None:
    if events.TO_MASH_MANAGERS.intersection(event_types) and not may_hear_manager_events(caller):
        raise Problem(403, "Only MASH managers and admins may subscribe to "
                           "mash.referral.decision_overdue.", title="Forbidden")


async def _check_url(url: str, guard: UrlGuard) -> None:
    try:
        await guard.check(url)
    except UnsafeUrl as exc:
        raise Problem(422, str(exc), title="Webhook URL not allowed",
                      errors=[{"loc": ["body", "url"], "msg": str(exc)}]) from exc
