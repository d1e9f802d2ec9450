"""Stages "upstream" and "relay": send the request along the plan, relay the answer.

The attempts along the plan (retries, fallback, circuit breakers) are in
`proxy.services.attempts`. A stream can only move on to another target before
its first byte has reached the client, which holds by construction: the
response is returned only once an upstream answered.

When the caller's API is not the target's, `services/translating.py` converts
the request body, the answer and the stream events; same-format calls pass through.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import httpx
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse

from proxy.call import Call
from proxy.errors import ProxyError, UpstreamError, stream_error_event
from proxy.providers.sse import EventSplitter, is_malformed
from proxy.runtime import Runtime
from proxy.services.accounting import account
from proxy.services.attempts import compact_json, open_upstream
from proxy.services.response_cache import keep_for_cache
from proxy.services.translating import (
    caller_body,
    caller_finish_reason,
    stream_translator,
    translated,
)
from proxy.stream_text import filter_body, stream_text_filter
from proxy.upstream import transport_error

log = logging.getLogger(__name__)


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
    if translated(call, adapter):
        body = call.response_body = caller_body(call, adapter, body)
        call.finish_reason = caller_finish_reason(call, body)
        raw = compact_json(body)
    if call.output_filters:  # security output scanning, pseudonym restoration
        raw = filter_body(call.api_format, body, call.output_filters)
    return HttpResponse(raw, status=response.status_code, content_type="application/json")


def error_in_stream(call: Call, error: dict[str, Any]) -> UpstreamError:
    """The failure an upstream reported inside its stream (e.g. Anthropic's overloaded_error)."""
    provider = call.target.provider.name if call.target else ""
    return UpstreamError(
        provider=provider,
        status=502,
        message=f"Upstream {provider} failed mid-stream: {error.get('message') or error}",
        retryable=False,
        raw_body=compact_json(error),
    )


def skip_malformed(call: Call, event: bytes) -> None:
    """Note a stream event that is not JSON (not relayed) on the log record, and warn."""
    skipped = call.annotations.setdefault("malformed_stream_events", [])
    if len(skipped) < 5:
        skipped.append(event[:200].decode("utf-8", "replace"))
    log.warning("request %s: upstream sent a stream event that is not JSON", call.request_id)
    call.cache_capture = None  # an answer from a misbehaving stream is not cached


def stream_response(
    call: Call, upstream: httpx.Response, adapter: ModuleType, runtime: Runtime
) -> StreamingHttpResponse:
    call.stream_format = call.api_format  # translated streams are logged as the caller saw them
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
    translator = stream_translator(call, adapter)  # None: same format, relayed as is
    text = stream_text_filter(call.api_format, call.output_filters) if call.output_filters else None
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
            out: list[bytes] = []
            for event in splitter.feed(chunk):
                if is_malformed(event):  # dropped: it would break the client's SDK
                    skip_malformed(call, event)
                    continue
                relayed = scanner.feed(event)  # usage, finish, end; False: not for the client
                if translator is not None:
                    caller = translator.feed(event)  # the caller's format
                else:
                    caller = [event] if relayed else []
                if text is not None and caller:  # output filters: security, pseudonyms
                    caller = [piece for one in caller for piece in text.rewrite(one)]
                out.extend(caller)
                # The log keeps what the client got, and an upstream event it did not get
                # (the usage chunk it did not ask for) in the upstream's own format.
                logged = caller if (relayed or translator is not None) else [event]
                if events is not None:
                    if kept_bytes < limit:
                        events.extend(logged)
                        kept_bytes += sum(map(len, logged))
                    else:
                        call.stream_truncated = True
            if scanner.saw_done:
                call.usage = scanner.summary.usage
                account(call, runtime)  # spend counted before the client sees the end
            if out:
                if call.cache_capture is not None:  # stored before [DONE] reaches the client
                    await keep_for_cache(call, out, scanner.saw_done, scanner.summary.usage)
                yield b"".join(out)
        if scanner.error is not None:  # the upstream's error event, already relayed
            call.fail(error_in_stream(call, scanner.error))
        elif splitter.rest().strip() or not scanner.saw_done:
            raise UpstreamError(
                provider=call.target.provider.name if call.target else "",
                status=502,
                message="The upstream stream ended before it was complete.",
                retryable=False,
            )
        else:
            if text is not None:
                rest = text.finish()
                if rest:
                    yield b"".join(rest)
            finished = True
    except ProxyError as error:  # an upstream failure, or an output filter's block
        call.fail(error)
        yield stream_error_event(call.api_format, error)
    except httpx.HTTPError as exc:
        provider = call.target.provider.name if call.target else ""
        broken = transport_error(provider, exc, "broke off its stream")
        call.fail(broken)
        yield stream_error_event(call.api_format, broken)
    except (asyncio.CancelledError, GeneratorExit):
        # A client that hangs up once it has read the end of the stream (the SDKs
        # close right after [DONE]) got the whole answer: that is not a disconnect.
        if not scanner.saw_done:
            call.client_disconnected = True
            call.annotations["client_disconnected_after_ms"] = round(call.elapsed_ms(), 3)
        raise
    finally:
        await upstream.aclose()
        call.upstream_seconds += time.perf_counter() - relay_started
        call.usage = scanner.summary.usage
        finish = scanner.summary.finish_reason
        if finish and translator is not None:
            finish = translator.finish_reason or finish  # in the caller's vocabulary
        call.finish_reason = finish or (
            "" if finished else "client_disconnected" if call.client_disconnected else "error"
        )
        if call.client_disconnected and call.status < 400:
            call.status = 499
        account(call, runtime)
        runtime.request_ended(call.to_log_entry())
