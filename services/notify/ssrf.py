"""Webhook URLs must not reach inside the hub's network (server-side request forgery)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeWebhookUrl(ValueError):
    """The URL may not be used for webhooks; the message says why (safe to show)."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class WebhookUrlGuard:
    """Allows https URLs that resolve only to public addresses.

    With ``allow_loopback`` (tests, `mash up`), loopback addresses are allowed too, and
    plain http to them. Private, link-local and other special addresses never are. The
    check runs when a subscription is saved and again before every attempt, since DNS
    answers change.
    """

    def __init__(self, *, allow_loopback: bool, resolver: Resolver = resolve) -> None:
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    async def check(self, url: str) -> list[str]:
        """The addresses ``url``'s host resolves to, every one of them allowed; raise
        UnsafeWebhookUrl otherwise. Connect to one of these, not to the name: a second
        look-up could answer differently (DNS rebinding)."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http"):
            raise UnsafeWebhookUrl("A webhook URL must use https.")
        if not parts.hostname:
            raise UnsafeWebhookUrl("A webhook URL must name a host.")
        if parts.username or parts.password:
            raise UnsafeWebhookUrl("A webhook URL must not carry a user name or password.")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeWebhookUrl("The webhook URL's port is not valid.") from exc
        try:
            addresses = await self.resolver(parts.hostname, port)
        except OSError as exc:
            raise UnsafeWebhookUrl("The webhook URL's host does not resolve.") from exc
        if not addresses:
            raise UnsafeWebhookUrl("The webhook URL's host does not resolve.")
        loopback = [self._is_loopback(address) for address in addresses]
        if parts.scheme == "http" and not (self.allow_loopback and all(loopback)):
            raise UnsafeWebhookUrl("A webhook URL must use https.")
        for address, is_loopback in zip(addresses, loopback, strict=True):
            if is_loopback and self.allow_loopback:
                continue
            if not _is_public(address):
                raise UnsafeWebhookUrl("The webhook URL resolves to a private, loopback or "
                                       "link-local address.")
        return addresses

    @staticmethod
    def _is_loopback(address: str) -> bool:
        ip = _unmapped(ipaddress.ip_address(address.split("%")[0]))
        return ip.is_loopback


def _unmapped(ip: ipaddress.IPv4Address | ipaddress.IPv6Address
              ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_public(address: str) -> bool:
    ip = _unmapped(ipaddress.ip_address(address.split("%")[0]))
    return ip.is_global and not ip.is_multicast


def pinned_url(url: str, address: str) -> str:
    """``url`` with its host replaced by the checked ``address`` (port, path and query kept)."""
    parts = urlsplit(url)
    ip = address.split("%")[0]
    host = f"[{ip}]" if ":" in ip else ip
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def host_header(url: str) -> str:
    """The Host header a request to ``url`` carries (the name, not the address)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port}" if parts.port else host
