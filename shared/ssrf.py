"""Outbound URLs must not reach inside the hub's network (server-side request forgery).

Every fetch the hub makes to an address someone else chose goes through a UrlGuard:
webhooks (notify), partners' JWKS URLs (identity), and any later peer hub.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose addresses carry an IPv4 address in their low 32 bits: a gateway
# on the way turns them into a connection to that IPv4 address.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"),  # RFC 6052, well-known prefix
          ipaddress.IPv6Network("64:ff9b:1::/48"))  # RFC 8215, local-use
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291), still routable


@cache
def _tls_context() -> ssl.SSLContext:
    """The client TLS context (certifi's CAs) every outbound client shares: making one
    reads the whole CA bundle, about 15 ms per client."""
    import httpx

    return httpx.create_ssl_context(trust_env=False)


def outbound_client(*, timeout: float,
                    transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A client for requests to guarded URLs: redirects are not followed (where they lead
    was not checked) and no proxy is taken from the environment (the guard checked where
    the URL resolves, and a proxy would send the request somewhere else)."""
    import httpx

    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport,
                             trust_env=False, verify=_tls_context())


class OutboundClient:
    """An attribute holding its instance's ``outbound_client``, made at first use from the
    instance's ``timeout`` and ``transport``, or one set in its place (tests).

    Made at start-up, the webhook and peer-hub clients loaded httpx (about 70 ms, with
    its command line's rich and pygments) and read the CA bundle before the hub was
    ready; now the first delivery does.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> OutboundClient: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> httpx.AsyncClient: ...

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        client: httpx.AsyncClient | None = instance.__dict__.get(self.slot)
        if client is None:
            client = outbound_client(timeout=instance.timeout, transport=instance.transport)
            instance.__dict__[self.slot] = client
        return client

    def __set__(self, instance: Any, client: httpx.AsyncClient) -> None:
        instance.__dict__[self.slot] = client

    async def close(self, instance: Any) -> None:
        """Close the instance's client, if it was ever made."""
        client = instance.__dict__.pop(self.slot, None)
        if client is not None:
            await client.aclose()


class UnsafeUrl(ValueError):
    """The URL may not be fetched; the message says why (safe to show)."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class UrlGuard:
    """Allows https URLs that resolve only to public addresses.

    With ``allow_loopback`` (tests, `mash up`), loopback addresses are allowed too, and
    plain http to them. Private, link-local and other special addresses never are, nor
    IPv6 addresses that embed one (IPv4-mapped, NAT64, 6to4, Teredo). Check when the URL
    is registered and again before every fetch, since DNS answers change.
    """

    def __init__(self, *, allow_loopback: bool, resolver: Resolver = resolve,
                 what: str = "URL") -> None:
        self.allow_loopback = allow_loopback
        self.resolver = resolver
        self.what = what  # how messages name the URL: "webhook URL", "JWKS URL"

    async def check(self, url: str) -> list[str]:
        """The addresses ``url``'s host resolves to, every one of them allowed; raise
        UnsafeUrl otherwise. Connect to one of these, not to the name: a second
        look-up could answer differently (DNS rebinding)."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http"):
            raise UnsafeUrl(f"A {self.what} must use https.")
        if not parts.hostname:
            raise UnsafeUrl(f"A {self.what} must name a host.")
        if parts.username or parts.password:
            raise UnsafeUrl(f"A {self.what} must not carry a user name or password.")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeUrl(f"The {self.what}'s port is not valid.") from exc
        try:
            addresses = await self.resolver(parts.hostname, port)
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrl(f"The {self.what}'s host does not resolve.") from exc
        if not addresses:
            raise UnsafeUrl(f"The {self.what}'s host does not resolve.")
        loopback = [is_loopback(address) for address in addresses]
        if parts.scheme == "http" and not (self.allow_loopback and all(loopback)):
            raise UnsafeUrl(f"A {self.what} must use https.")
        for address, on_loopback in zip(addresses, loopback, strict=True):
            if on_loopback and self.allow_loopback:
                continue
            if not is_public(address):
                raise UnsafeUrl(f"The {self.what} resolves to a private, loopback or "
                                "link-local address.")
        return addresses


def _ip(address: str) -> IPAddress:
    return ipaddress.ip_address(address.split("%")[0])


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.0.0.1)."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address, stored inverted in the last 32 bits
    if any(ip in network for network in (*_NAT64, _IPV4_COMPATIBLE)):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """True for a global unicast address that embeds no internal IPv4 address."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and not (inner.is_global and not inner.is_multicast):
            return False
        if ip.ipv4_mapped is not None:  # ::ffff:0:0/96 is never global, whatever it maps
            return True
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


async def guarded_get(client: httpx.AsyncClient, guard: UrlGuard, url: str,
                      **kwargs: Any) -> httpx.Response:
    """GET ``url`` from an address the guard has just allowed (the next one if it refuses),
    naming the host in Host and in TLS (SNI and the certificate check): the name is
    resolved once, so it cannot be rebound between the check and the connection.

    Raises UnsafeUrl, or httpx.HTTPError as a plain get would. ``client`` should neither
    follow redirects nor trust proxies from the environment.
    """
    import httpx

    addresses = await guard.check(url)
    headers = {**kwargs.pop("headers", {}), "host": host_header(url)}
    hostname = urlsplit(url).hostname or ""
    for n, address in enumerate(addresses, start=1):
        try:
            return await client.get(pinned_url(url, address), headers=headers,
                                    extensions={"sni_hostname": hostname}, **kwargs)
        except httpx.ConnectError:
            if n == len(addresses):
                raise
    raise AssertionError("unreachable: the guard returns at least one address")
