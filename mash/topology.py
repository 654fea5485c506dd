"""Which service answers which public path: the one routing table, used by the in-process
gateway and checked against the nginx config in deploy/."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from services.identity.app import create_service as create_identity
from services.notify.app import create_service as create_notify
from services.referral.app import create_service as create_referral
from shared.broker import Broker
from shared.service import Service
from shared.settings import SERVICE_NAMES, Settings

ServiceFactory = Callable[[Settings, Broker, CollectorRegistry | None], Service]

SERVICES: dict[str, ServiceFactory] = dict(
    zip(SERVICE_NAMES, (create_identity, create_referral, create_notify), strict=True))

# Public path prefixes of shared/design/CONTRACT.md and the service behind each.
PUBLIC_ROUTES: dict[str, str] = {
    "/.well-known/": "identity",
    "/oauth2/": "identity",
    "/api/v1/sessions": "identity",
    "/api/v1/me": "identity",
    "/api/v1/agencies": "identity",
    "/api/v1/users": "identity",
    "/api/v1/clients": "identity",
    "/api/v1/admin-changes": "identity",
    "/api/v1/referrals": "referral",
    "/api/v1/information-requests": "referral",
    "/api/v1/people": "referral",
    "/api/v1/match-reviews": "referral",
    "/api/v1/audit": "referral",
    "/api/v1/reports": "referral",
    "/api/v1/alerts": "referral",
    "/api/v1/missing-episodes": "referral",
    "/api/v1/peer-hubs": "referral",
    "/api/v1/hub": "referral",
    "/api/v1/encompass-notices": "referral",
    "/fhir/": "referral",
    "/api/v1/subscriptions": "notify",
    "/api/v1/deliveries": "notify",
}


def service_for_path(path: str) -> str | None:
    """The service that owns ``path``, or None for the gateway's own paths and the web client."""
    for prefix, service in PUBLIC_ROUTES.items():
        if prefix.endswith("/"):
            if path.startswith(prefix):
                return service
        elif path == prefix or path.startswith(prefix + "/"):
            return service
    return None
