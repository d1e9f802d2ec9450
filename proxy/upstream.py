"""The one seam for upstream HTTP.

Every call to a provider goes through `UpstreamClients.send`: one shared
`httpx.AsyncClient` per event loop (two when the SSRF guard is on: one connects only
to public addresses), on aiohttp's engine (httpx-aiohttp), with
the configured timeouts. Transport failures become `UpstreamError`s that say
whether another target may be tried.
"""

from __future__ import annotations

import asyncio
import json
import weakref

import aiohttp
import httpx
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

from proxy.address_guard import AddressVerdicts, guarded_connector
from proxy.errors import UpstreamError


def is_timeout(exc: BaseException) -> bool:
    """Whether a transport error was a timeout (httpx-aiohttp maps some wrongly)."""
    cause = exc.__cause__
    if cause is not None and not isinstance(cause, httpx.HTTPError):
        return isinstance(cause, TimeoutError)
    return isinstance(exc, httpx.TimeoutException)


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class UpstreamClients:
    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[bool, httpx.AsyncClient]
        ] = weakref.WeakKeyDictionary()
        self.addresses = AddressVerdicts(settings.UPSTREAM_ADDRESS_CHECK_SECONDS)

    def client(self, *, guarded: bool = False) -> httpx.AsyncClient:
        """This loop's client; `guarded` connects only to public addresses (SSRF guard)."""
        loop = asyncio.get_running_loop()
        clients = self._clients.setdefault(loop, {})
        client = clients.get(guarded)
        if client is None or client.is_closed:
            limits = httpx.Limits(
                max_connections=settings.UPSTREAM_MAX_CONNECTIONS,
                max_keepalive_connections=settings.UPSTREAM_MAX_CONNECTIONS,
                keepalive_expiry=30,
            )
            transport = AiohttpTransport(limits=limits, trust_env=False)
            if guarded:
                ssl_context = transport.ssl_context
                transport.client = lambda: aiohttp.ClientSession(
                    connector=guarded_connector(
                        keepalive_timeout=30, ssl=ssl_context, limit=limits.max_connections or 0
                    )
                )
            client = httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(
                    settings.UPSTREAM_READ_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT
                ),
            )
            clients[guarded] = client
        return client

    async def send(
        self,
        *,
        provider: str,
        url: str,
        headers: dict[str, str],
        content: bytes,
        timeout: float | None = None,
        allow_private_network: bool = False,
    ) -> httpx.Response:
        """POST and return the response with its body not yet read.

        Raises `UpstreamError` for transport failures, for error statuses (the
        error body is read and kept as evidence), and for a URL whose host the
        SSRF guard refuses (see `proxy.address_guard`).
        """
        guarded = settings.UPSTREAM_PRIVATE_NETWORK_GUARD and not allow_private_network
        if guarded:
            problem = await self.addresses.problem(url)
            if problem:
                raise UpstreamError(
                    provider=provider,
                    status=502,
                    message=(
                        f"Upstream {provider} may not be reached: its address is not public"
                        " and the provider does not allow private networks."
                    ),
                    retryable=True,
                    raw_body=problem.encode(),
                )
        client = self.client(guarded=guarded)
        request = client.build_request(
            "POST",
            url,
            headers=headers,
            content=content,
            timeout=(
                httpx.Timeout(timeout, connect=min(timeout, settings.UPSTREAM_CONNECT_TIMEOUT))
                if timeout
                else httpx.USE_CLIENT_DEFAULT
            ),
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise transport_error(provider, exc, "could not be reached") from exc
        if response.status_code >= 400:
            raw = await read_error_body(response)
            raise error_from_status(provider, response, raw)
        return response

    async def aclose(self) -> None:
        for clients in list(self._clients.values()):
            for client in clients.values():
                await client.aclose()
        self._clients.clear()


def transport_error(provider: str, exc: BaseException, what: str) -> UpstreamError:
    if is_timeout(exc):
        return UpstreamError(
            provider=provider,
            status=504,
            kind="timeout",
            message=f"Upstream {provider} timed out.",
            retryable=True,
        )
    reason = type(exc.__cause__ or exc).__name__
    return UpstreamError(
        provider=provider,
        status=502,
        message=f"Upstream {provider} {what} ({reason}).",
        retryable=True,
    )


async def read_error_body(response: httpx.Response) -> bytes:
    try:
        return await response.aread()
    except httpx.HTTPError:
        return b""
    finally:
        await response.aclose()


def upstream_message(raw: bytes) -> str:
    """`: <message>` from an OpenAI or Anthropic error body (both keep it in error.message)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f": {message[:500].rstrip('.')}" if isinstance(message, str) and message else ""


def error_from_status(provider: str, response: httpx.Response, raw: bytes) -> UpstreamError:
    status = response.status_code
    retryable = status == 429 or status >= 500 or status in (408, 409)
    if status == 429:
        kind, client_status = "rate_limit", 429
    elif status >= 500:
        kind, client_status = "upstream", 502
    else:
        kind, client_status = "invalid_request", status
    return UpstreamError(
        provider=provider,
        status=client_status,
        upstream_status=status,
        kind=kind,
        message=f"Upstream {provider} answered {status}{upstream_message(raw)}.",
        retryable=retryable,
        raw_body=raw,
        retry_after=_retry_after(response.headers),
    )
