"""Stages "upstream" and "relay": send the request along the plan, relay the answer.

Targets are tried in the plan's order; a retryable failure (connection error,
timeout, 429, 5xx) moves on to the next target, a client error does not. A
stream can only move on before its first byte has reached the client, which
holds by construction: the response is returned only once an upstream answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from types import ModuleType

import httpx
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse

from proxy.call import Call
from proxy.errors import ProxyError, UpstreamError, stream_error_event
from proxy.providers import get_adapter
from proxy.providers.sse import EventSplitter
from proxy.runtime import Runtime
from proxy.upstream import transport_error

log = logging.getLogger(__name__)


def _dumps(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def open_upstream(call: Call, runtime: Runtime) -> tuple[httpx.Response, ModuleType]:
    last_error: UpstreamError | None = None
    for target in call.plan:
        adapter = get_adapter(target.provider.kind)
        if call.api_format != adapter.API_FORMAT:
            raise ProxyError(
                400,
                "invalid_request",
                f"Model {call.requested_model!r} is served in the {adapter.API_FORMAT} format, "
                f"which this endpoint cannot translate to yet.",
                code="unsupported_translation",
            )
        request = adapter.build_request(
            call.endpoint,
            call.body,
            model=target.model,
            api_key=target.provider.api_key,
            base_url=target.provider.base_url,
            extra_headers=target.provider.extra_headers,
            want_usage=True,
        )
        call.target = target
        started = time.perf_counter()
        try:
            response = await runtime.upstream.send(
                provider=target.provider.name,
                url=request.url,
                headers=request.headers,
                content=_dumps(request.body),
                timeout=target.timeout_seconds or target.provider.timeout_seconds,
            )
        except UpstreamError as error:
            elapsed = time.perf_counter() - started
            call.upstream_seconds += elapsed
            call.attempts.append(
                {
                    "target": target.label,
                    "status": error.upstream_status or error.status,
                    "error": error.message,
                    "ms": round(elapsed * 1000, 3),
                }
            )
            error.provider_format = adapter.API_FORMAT  # type: ignore[attr-defined]
            last_error = error
            if error.retryable:
                continue
            raise
        call.upstream_seconds += time.perf_counter() - started
        call.attempts.append(
            {
                "target": target.label,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )
        return response, adapter
    assert last_error is not None
    raise last_error


async def forward(call: Call, runtime: Runtime) -> HttpResponse | StreamingHttpResponse:
    response, adapter = await open_upstream(call, runtime)
    if call.stream:
        return stream_response(call, response, adapter, runtime)
    provider = call.target.provider.name if call.target else ""
    started = time.perf_counter()
    try:
        raw = await response.aread()
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc, "broke off its response") from exc
    finally:
        await response.aclose()
        call.upstream_seconds += time.perf_counter() - started
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise UpstreamError(
            provider=provider,
            status=502,
            message=f"Upstream {provider} answered with malformed JSON.",
            retryable=False,
            raw_body=raw,
        ) from exc
    summary = adapter.summarize_response(body)
    call.usage = summary.usage
    call.finish_reason = summary.finish_reason
    call.response_body = body
    return HttpResponse(raw, status=response.status_code, content_type="application/json")


def stream_response(
    call: Call, upstream: httpx.Response, adapter: ModuleType, runtime: Runtime
) -> StreamingHttpResponse:
    call.stream_format = adapter.API_FORMAT
    call.stream_events = [] if settings.LOG_BODIES != "off" else None
    response = StreamingHttpResponse(
        relay(call, upstream, adapter, runtime), content_type="text/event-stream"
    )
    response["cache-control"] = "no-cache"
    response["x-accel-buffering"] = "no"
    return response


async def relay(
    call: Call, upstream: httpx.Response, adapter: ModuleType, runtime: Runtime
) -> AsyncIterator[bytes]:
    """Relay an upstream SSE stream chunk by chunk; record the request when it ends."""
    scanner = adapter.StreamScanner(drop_usage_chunk=not call.client_wants_usage)
    splitter = EventSplitter()
    events = call.stream_events
    kept_bytes = 0
    limit = settings.LOG_MAX_BODY_BYTES
    finished = False
    relay_started = time.perf_counter()
    try:
        async for chunk in upstream.aiter_raw():
            if call.first_byte_at is None:
                call.first_byte_at = time.perf_counter()
            out = []
            for event in splitter.feed(chunk):
                if events is not None:
                    if kept_bytes < limit:
                        events.append(event)
                        kept_bytes += len(event)
                    else:
                        call.stream_truncated = True
                if scanner.feed(event):
                    out.append(event)
            if out:
                yield b"".join(out)
        if splitter.rest().strip() or not scanner.saw_done:
            raise UpstreamError(
                provider=call.target.provider.name if call.target else "",
                status=502,
                message="The upstream stream ended before it was complete.",
                retryable=False,
            )
        finished = True
    except UpstreamError as error:
        call.fail(error)
        yield stream_error_event(call.api_format, error)
    except httpx.HTTPError as exc:
        provider = call.target.provider.name if call.target else ""
        broken = transport_error(provider, exc, "broke off its stream")
        call.fail(broken)
        yield stream_error_event(call.api_format, broken)
    except (asyncio.CancelledError, GeneratorExit):
        call.client_disconnected = True
        call.annotations["client_disconnected_after_ms"] = round(call.elapsed_ms(), 3)
        raise
    finally:
        await upstream.aclose()
        call.upstream_seconds += time.perf_counter() - relay_started
        call.usage = scanner.summary.usage
        call.finish_reason = scanner.summary.finish_reason or (
            "" if finished else "client_disconnected" if call.client_disconnected else "error"
        )
        if call.client_disconnected and call.status < 400:
            call.status = 499
        runtime.request_ended(call.to_log_entry())
