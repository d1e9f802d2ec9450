"""The SSRF guard: provider base URLs may not reach private networks unless allowed.

A base URL entered by a person (the admin, or any service that creates providers
from user input) is checked when it is validated: its host is resolved and every
address it resolves to must be public. The upstream seam checks again before
sending (DNS can change after validation), cheaply: one verdict per host, kept
for `UPSTREAM_ADDRESS_CHECK_SECONDS`, so no request waits on a DNS lookup once
the host is known. That verdict gives the caller a clear error; the enforcement
is at connection time: the upstream client for guarded providers resolves through
`GuardedResolver`, which refuses a private address whatever the cached verdict
said, so a host that re-points its DNS at a private address (DNS rebinding) is not
connected to. Providers with `allow_private_network` (those configured in the
environment, or a local model server an operator allowed) skip every check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressError(ValueError):
    """The URL's host is, or resolves to, an address the guard refuses."""


def is_private(address: Address) -> bool:
    """Loopback, private (RFC 1918, ULA), link-local (cloud metadata), and other non-public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PrivateAddressError(f"{url!r} is not an http(s) URL with a host.")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def refused(addresses: Iterable[str]) -> list[str]:
    """The addresses among these that the guard refuses (an unreadable one counts)."""
    bad = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            bad.append(text)
            continue
        if is_private(address):
            bad.append(text)
    return bad


def _literal(host: str) -> list[str] | None:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (blocking; for validation, off the hot path)."""
    literal = _literal(host)
    if literal is not None:
        return literal
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PrivateAddressError(f"The host {host!r} could not be resolved ({exc}).") from exc
    return sorted({str(info[4][0]) for info in infos})


async def resolve_async(host: str, port: int) -> list[str]:
    literal = _literal(host)
    if literal is not None:
        return literal
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PrivateAddressError(f"The host {host!r} could not be resolved ({exc}).") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str) -> None:
    """Raise `PrivateAddressError` unless every address of the URL's host is public."""
    host, port = host_and_port(url)
    bad = refused(resolve(host, port))
    if bad:
        raise PrivateAddressError(
            f"{host} resolves to a private, loopback or link-local address ({', '.join(bad)})."
        )


class AddressVerdicts:
    """Per-host verdicts with a time to live, for the upstream seam (one per process)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._verdicts: dict[tuple[str, int], tuple[float, str]] = {}  # -> (expires, problem)

    async def problem(self, url: str) -> str:
        """Why this URL may not be reached ("" when it may), from the cache when fresh."""
        try:
            key = host_and_port(url)
        except PrivateAddressError as exc:
            return str(exc)
        now = time.monotonic()
        cached = self._verdicts.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            bad = refused(await resolve_async(*key))
            problem = f"{key[0]} resolves to a private address" if bad else ""
        except PrivateAddressError as exc:
            problem = str(exc)
        if len(self._verdicts) > 10_000:
            self._verdicts.clear()
        self._verdicts[key] = (now + self.ttl, problem)
        return problem

    def clear(self) -> None:
        self._verdicts.clear()


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing every answer that holds a non-public address."""

    def __init__(self, resolver: AbstractResolver | None = None) -> None:
        self._resolver = resolver or aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        bad = refused(str(answer["host"]) for answer in answers)
        if bad:
            raise OSError(f"{host} resolves to a private address; not connecting")
        return answers

    async def close(self) -> None:
        await self._resolver.close()


def guarded_connector(**kwargs: Any) -> aiohttp.TCPConnector:
    """A connector that never opens a connection to a non-public address by name.
    (Literal addresses bypass resolvers: the verdict refuses those, and they cannot rebind.)"""
    return aiohttp.TCPConnector(resolver=GuardedResolver(), **kwargs)
