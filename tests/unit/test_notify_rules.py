"""Notify's rules that need no server: signatures, retry timing, the SSRF guard, templates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.notify.channels.webhook import parse_retry_after
from services.notify.events import shareable_data
from services.notify.retries import RetryPolicy
from services.notify.settings import NotifySettings
from services.notify.signing import new_webhook_secret, signature_header
from services.notify.templates import render
from shared.ssrf import UnsafeUrl, UrlGuard, host_header, pinned_url

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def headers_for(secrets: list[str], body: bytes, message_id: str = "msg_1") -> dict[str, str]:
    timestamp = int(datetime.now(UTC).timestamp())
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, message_id, timestamp, body)}


def test_partner_verifies_our_signature_with_the_reference_library() -> None:
    secret = new_webhook_secret()
    body = json.dumps({"type": "mash.referral.received", "timestamp": NOW.isoformat(),
                       "data": {"referral_id": "r1"}}).encode()

    verified = Webhook(secret).verify(body, headers_for([secret], body))

    assert verified["data"] == {"referral_id": "r1"}
    assert secret.startswith("whsec_")


def test_signature_made_with_another_secret_is_refused_by_the_reference_library() -> None:
    body = b'{"type":"x"}'
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers_for([new_webhook_secret()], body))


def test_during_rotation_both_old_and_new_secrets_verify() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    body = b'{"type":"mash.referral.decided"}'
    headers = headers_for([new, old], body)

    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_retries_follow_the_schedule_for_about_three_days_then_stop() -> None:
    policy = RetryPolicy.from_settings(NotifySettings())
    waits = [policy.delay_after(n) for n in range(1, 20)]
    schedule = [w for w in waits if w is not None]

    assert len(schedule) == 12 and waits[12] is None  # 13 attempts in all
    assert 4 <= schedule[0] <= 6 and 240 <= schedule[1] <= 360
    assert 2.5 * 86400 < policy.total_seconds < 3.5 * 86400


def test_retry_waits_are_jittered_within_bounds() -> None:
    low = RetryPolicy([100.0], jitter=0.2, random=lambda: 0.0)
    high = RetryPolicy([100.0], jitter=0.2, random=lambda: 0.999999)
    assert low.delay_after(1) == pytest.approx(80.0)
    assert high.delay_after(1) == pytest.approx(120.0, rel=1e-4)


def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy([5.0, 300.0], jitter=0, max_retry_after=3600)
    assert policy.delay_after(1, retry_after=120) == 120
    assert policy.delay_after(2, retry_after=10) == 300  # never sooner than the schedule
    assert policy.delay_after(1, retry_after=999_999) == 3600


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Mon, 30 Nov 2026 09:02:00 GMT", NOW) == 120
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def fixed(*addresses: str) -> UrlGuard:
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return UrlGuard(allow_loopback=False, resolver=resolver, what="webhook URL")


async def test_public_https_webhook_url_is_allowed() -> None:
    await fixed("93.184.215.14").check("https://partner.example/hooks")


@pytest.mark.parametrize("address", [
    "10.0.0.5", "172.16.3.4", "192.168.1.10", "127.0.0.1", "169.254.169.254", "::1",
    "fe80::1", "fd00::1", "::ffff:10.0.0.5", "100.64.0.1", "0.0.0.0", "224.0.0.1"])  # noqa: S104
async def test_webhook_url_resolving_inside_the_network_is_refused(address: str) -> None:
    with pytest.raises(UnsafeUrl):
        await fixed(address).check("https://partner.example/hooks")


async def test_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(UnsafeUrl):
        await fixed("93.184.215.14", "10.1.2.3").check("https://partner.example/hooks")


@pytest.mark.parametrize("url", ["http://partner.example/hooks", "ftp://partner.example/x",
                                 "https://user:pw@partner.example/x", "https:///nohost"])
async def test_webhook_url_must_be_plain_https(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await fixed("93.184.215.14").check(url)


async def test_loopback_and_plain_http_to_it_are_allowed_only_when_configured() -> None:
    allowing = UrlGuard(allow_loopback=True)
    await allowing.check("http://127.0.0.1:9/hooks")
    await allowing.check("http://localhost:9/hooks")
    with pytest.raises(UnsafeUrl):
        await UrlGuard(allow_loopback=False).check("http://127.0.0.1:9/hooks")
    with pytest.raises(UnsafeUrl):
        await UrlGuard(allow_loopback=False).check("https://127.0.0.1:9/hooks")


async def test_loopback_allowance_never_opens_private_addresses() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["192.168.0.7"]

    with pytest.raises(UnsafeUrl):
        await UrlGuard(allow_loopback=True, resolver=resolver).check("https://x.example/")


def test_loopback_webhooks_are_allowed_by_default_only_in_development() -> None:
    assert NotifySettings().allows_loopback_webhooks("development")
    assert not NotifySettings().allows_loopback_webhooks("production")
    assert NotifySettings(notify_allow_loopback_webhooks=True).allows_loopback_webhooks("test")


def test_notify_settings_are_read_from_the_same_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MASH_SMTP_HOST", "smtp.hub.example")
    monkeypatch.setenv("MASH_SMTP_PORT", "2525")
    monkeypatch.setenv("MASH_NOTIFY_RETRY_SCHEDULE_SECONDS", "[1, 2]")
    monkeypatch.setenv("MASH_NOTIFY_ALLOW_LOOPBACK_WEBHOOKS", "false")

    settings = NotifySettings()

    assert (settings.smtp_host, settings.smtp_port) == ("smtp.hub.example", 2525)
    assert settings.notify_retry_schedule_seconds == [1.0, 2.0]
    assert not settings.allows_loopback_webhooks("development")


def test_partner_is_sent_identifiers_status_outcome_and_links_only() -> None:
    data = {"referral_id": "r1", "reference": "MASH-2026-000001", "status": "decided",
            "outcome": "early_help", "links": {"self": "/api/v1/referrals/r1"},
            "child_name": "Amy Example", "summary": "narrative", "referring_agency_id": "a1"}

    shared = shareable_data(data, "https://hub.example/")

    assert shared == {"referral_id": "r1", "reference": "MASH-2026-000001",
                      "status": "decided", "outcome": "early_help",
                      "links": {"self": "https://hub.example/api/v1/referrals/r1"}}


def test_outcome_email_names_the_reference_outcome_and_link() -> None:
    payload = json.dumps({"type": "mash.referral.decided", "timestamp": NOW.isoformat(),
                          "data": {"reference": "MASH-2026-000007", "status": "decided",
                                   "outcome": "early_help",
                                   "links": {"self": "https://hub.example/api/v1/referrals/r7"}}})
    subject, body = render(payload)
    assert subject == "[MASH] Referral MASH-2026-000007: decision made"
    assert "Outcome: early_help" in body
    assert "https://hub.example/api/v1/referrals/r7" in body
    assert "$" not in body


def test_webhook_is_sent_to_the_checked_address_under_the_endpoints_own_name() -> None:
    url = "https://hooks.partner.example:8443/mash?tenant=7"
    assert pinned_url(url, "93.184.215.14") == "https://93.184.215.14:8443/mash?tenant=7"
    assert pinned_url("https://hooks.partner.example/x", "2001:db8::1") == \
        "https://[2001:db8::1]/x"
    assert host_header(url) == "hooks.partner.example:8443"
    assert host_header("https://hooks.partner.example/x") == "hooks.partner.example"


async def test_the_guard_returns_every_address_it_allowed() -> None:
    async def two(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    guard = UrlGuard(allow_loopback=False, resolver=two)
    assert await guard.check("https://hooks.partner.example/") == [
        "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
