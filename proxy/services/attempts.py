"""Stage "upstream": try the plan's targets until one answers.

For each target in the plan (see `routing.plan_for_route`):
- a target whose circuit breaker is open is skipped (see `proxy.breaker`);
- a retryable failure (429, 5xx, 408/409, timeout, connection error) is retried
  on the same target up to `ROUTING_RETRIES` times, after an exponential
  backoff with jitter, or after the upstream's `Retry-After` when it gave one;
  a wait longer than `ROUTING_MAX_RETRY_WAIT` is never made: the next target is
  tried at once instead;
- then the next target is tried, without waiting;
- a client error (any other 4xx) is returned to the caller at once, never retried.

A stream falls back only before its first byte reached the client: this returns
once an upstream answered with its headers, and the relay starts after that.
Every attempt is recorded in `call.attempts`; `call.target` is the one that served.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from types import ModuleType

import httpx
from django.conf import settings

from proxy.call import Call
from proxy.config import TargetInfo
from proxy.errors import ProxyError, UpstreamError
from proxy.providers import get_adapter
from proxy.runtime import Runtime
from proxy.services.translating import upstream_request


def compact_json(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def retry_wait(error: UpstreamError, retry: int, rng: random.Random) -> float | None:
    """Seconds to wait before retry number `retry` (0-based); None: do not wait, move on."""
    ceiling = settings.ROUTING_MAX_RETRY_WAIT
    if error.retry_after is not None:
        return error.retry_after if error.retry_after <= ceiling else None
    backoff = min(ceiling, settings.ROUTING_BACKOFF_BASE * 2**retry)
    return backoff / 2 + rng.uniform(0, backoff / 2)  # "equal jitter"


async def attempt(
    call: Call, runtime: Runtime, target: TargetInfo, adapter: ModuleType
) -> httpx.Response:
    """One request to one target; raises `UpstreamError` on failure."""
    request = upstream_request(call, target, adapter)  # translated when formats differ
    call.target = target
    started = time.perf_counter()
    try:
        response = await runtime.upstream.send(
            provider=target.provider.name,
            url=request.url,
            headers=request.headers,
            content=compact_json(request.body),
            timeout=target.timeout_seconds or target.provider.timeout_seconds,
            allow_private_network=target.provider.allow_private_network,
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
        raise
    elapsed = time.perf_counter() - started
    call.upstream_seconds += elapsed
    call.attempts.append(
        {"target": target.label, "status": response.status_code, "ms": round(elapsed * 1000, 3)}
    )
    return response


def all_sidelined(call: Call, runtime: Runtime) -> ProxyError:
    wait = min(runtime.breakers.reopens_in(t.label) for t in call.plan)
    return ProxyError(
        503,
        "overloaded",
        "Every target for this model failed repeatedly and is sidelined for a moment.",
        code="targets_sidelined",
        headers={"retry-after": str(max(1, round(wait)))},
    )


async def open_upstream(call: Call, runtime: Runtime) -> tuple[httpx.Response, ModuleType]:
    breakers = runtime.breakers
    last_error: UpstreamError | None = None
    untranslatable: ProxyError | None = None
    for target in call.plan:
        if not breakers.allows(target.label):
            call.attempts.append({"target": target.label, "skipped": "circuit_open"})
            continue
        adapter = get_adapter(target.provider.kind)
        for retry in range(settings.ROUTING_RETRIES + 1):
            try:
                response = await attempt(call, runtime, target, adapter)
            except UpstreamError as error:
                if not error.retryable:
                    breakers.succeeded(target.label)  # it answered; the request was at fault
                    raise
                breakers.failed(target.label)
                last_error = error
                if retry == settings.ROUTING_RETRIES or not breakers.allows(target.label):
                    break
                wait = retry_wait(error, retry, runtime.rng)
                if wait is None:
                    call.attempts[-1]["retry"] = "retry-after too long; next target"
                    break
                call.attempts[-1]["retry_in_ms"] = round(wait * 1000, 3)
                await asyncio.sleep(wait)
                continue
            except ProxyError as error:
                if error.code != "unsupported_translation":
                    raise
                # This target's format cannot carry the request; another target may.
                call.attempts.append({"target": target.label, "skipped": error.message})
                untranslatable = error
                break
            breakers.succeeded(target.label)
            return response, adapter
    if last_error is not None:
        raise last_error
    if untranslatable is not None:
        raise untranslatable
    raise all_sidelined(call, runtime)
