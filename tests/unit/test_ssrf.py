"""The SSRF guard on every outbound fetch: IPv6 forms that embed an internal IPv4 address."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from shared.ssrf import OutboundClient, UnsafeUrl, UrlGuard, embedded_ipv4


def resolving_to(*addresses: str, allow_loopback: bool = False) -> UrlGuard:
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return UrlGuard(allow_loopback=allow_loopback, resolver=resolver, what="JWKS URL")


def teredo(client: str, server: str = "65.54.227.120") -> str:
    """A Teredo address (2001::/32): the client's IPv4 address is stored inverted."""
    inverted = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | inverted
    return str(ipaddress.IPv6Address(value))


INTERNAL = ["127.0.0.1", "10.0.0.5", "169.254.169.254", "192.168.1.10", "100.64.0.1"]


@pytest.mark.parametrize("inner", INTERNAL)
@pytest.mark.parametrize(("form", "make"), [
    ("ipv4-mapped", lambda ip: f"::ffff:{ip}"),
    ("nat64", lambda ip: f"64:ff9b::{ip}"),
    ("nat64-local-use", lambda ip: f"64:ff9b:1::{ip}"),
    ("6to4", lambda ip: str(ipaddress.IPv6Address(
        (0x2002 << 112) | (int(ipaddress.IPv4Address(ip)) << 80)))),
    ("teredo", teredo),
    ("ipv4-compatible", lambda ip: f"::{ip}"),
])
async def test_ipv6_forms_embedding_an_internal_ipv4_address_are_refused(
    form: str, make: Callable[[str], str], inner: str,
) -> None:
    address = make(inner)
    assert embedded_ipv4(ipaddress.IPv6Address(address)) == ipaddress.IPv4Address(inner)
    with pytest.raises(UnsafeUrl, match="JWKS URL resolves to a private"):
        await resolving_to(address).check("https://jwks.partner.example/keys")


async def test_embedded_loopback_is_refused_even_where_loopback_is_allowed() -> None:
    for address in ("64:ff9b::127.0.0.1", "2002:7f00:1::", teredo("127.0.0.1")):
        with pytest.raises(UnsafeUrl):
            await resolving_to(address, allow_loopback=True).check("https://x.example/")


async def test_an_ipv6_literal_host_is_checked_like_a_name() -> None:
    guard = UrlGuard(allow_loopback=False)  # the real resolver: a literal resolves to itself
    with pytest.raises(UnsafeUrl):
        await guard.check("https://[::ffff:169.254.169.254]/jwks.json")
    with pytest.raises(UnsafeUrl):
        await guard.check("https://[64:ff9b::a9fe:a9fe]/jwks.json")


@pytest.mark.parametrize("address", [
    "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:93.184.215.14",
    "64:ff9b::93.184.215.14", "2002:5db8:d70e::1"])
async def test_public_addresses_are_accepted(address: str) -> None:
    assert await resolving_to(address).check("https://jwks.partner.example/keys") == [address]


async def test_a_refusal_names_what_was_refused() -> None:
    with pytest.raises(UnsafeUrl, match=r"^A JWKS URL must use https"):
        await resolving_to("93.184.215.14").check("http://jwks.partner.example/keys")


class Sender:
    """Something that sends to guarded URLs, as the webhook channel and peer sender do."""

    client = OutboundClient()

    def __init__(self) -> None:
        self.timeout = 3.0
        self.transport = None


async def test_an_outbound_client_is_made_at_its_first_use_and_closed_only_if_made() -> None:
    sender = Sender()
    await Sender.client.close(sender)  # never made: nothing to close, nothing made
    assert vars(sender) == {"timeout": 3.0, "transport": None}
    client = sender.client
    assert sender.client is client and not client.is_closed
    assert client.timeout.connect == 3.0 and not client.follow_redirects
    await Sender.client.close(sender)
    assert client.is_closed
    assert sender.client is not client, "a sender used again gets a new client"
    await Sender.client.close(sender)
