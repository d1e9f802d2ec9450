"""The request pipeline, top to bottom, in one place.

    intake → authenticate → anomaly guard → limits → security → enhance → route
    (and budget hold) → cache lookup → upstream → relay → cache store → record

Every stage is a small function that reads and updates the `Call`, and raises a
`ProxyError` to stop the request; the error is rendered in the caller's own API
format. The request is recorded exactly once: here, or at the end of a relayed
stream.
"""

from __future__ import annotations

import ipaddress
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from intelligence.services.enhance import enhance_request
from intelligence.services.matching import annotate_pattern
from intelligence.services.semantic_cache import answer_from_cache, keep_in_cache
from proxy.call import Call
from proxy.errors import ProxyError, UpstreamError, render_error
from proxy.runtime import Runtime, get_runtime
from proxy.services.accounting import account
from proxy.services.auth import authenticate
from proxy.services.forwarding import forward
from proxy.services.intake import take_in
from proxy.services.limits import enforce_limits, hold_budget
from proxy.services.response_cache import cache_lookup, remember_response
from proxy.services.routing import resolve, visible_models
from security.services.screening import screen_input

log = logging.getLogger(__name__)

Response = HttpResponse | StreamingHttpResponse


def _client_ip(request: HttpRequest) -> str | None:
    """The peer address; behind a trusted proxy, the last untrusted X-Forwarded-For hop."""
    peer = request.META.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXIES
    if peer is None or peer not in trusted:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop in trusted:
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:  # "unknown", a port, garbage: stop at the last address we trust
            return peer
    return peer


def begin(request: HttpRequest, *, api_format: str, endpoint: str) -> Call:
    return Call(
        api_format=api_format,
        endpoint=endpoint,
        headers=request.headers,
        client_ip=_client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


async def handle(request: HttpRequest, *, api_format: str, endpoint: str) -> Response:
    runtime = get_runtime()
    call = begin(request, api_format=api_format, endpoint=endpoint)
    runtime.request_started()
    try:
        take_in(call, request)  # 400, 413
        snapshot = call.snapshot = await runtime.config.current()
        await authenticate(call, snapshot, runtime)  # 401, 403
        runtime.guard(call, snapshot)  # 403, 429: anomaly countermeasures (blocks, throttles)
        await enforce_limits(call, runtime, body_bytes=len(request.body))  # 429
        await screen_input(call, snapshot)  # 400 policy_violation; redacts call.body
        annotate_pattern(call, snapshot)  # enhance: the prompt's pattern, from memory
        enhance_request(call, snapshot)  # enhance: rules and experiment arms, from memory
        resolve(call, snapshot, runtime.rng)  # 403, 404
        hold_budget(call, runtime)  # limits, once priced: hold the estimated cost
        response = await cache_lookup(call, runtime)  # exact match: a hit replays
        if response is None:
            response = await answer_from_cache(call, runtime)  # semantic, opt-in per route
        if response is None:
            response = await forward(call, runtime)  # upstream, then relay
            await remember_response(call, response)  # exact-match store; streams as they end
            response = keep_in_cache(call, response)  # semantic cache fill, off the path
    except ProxyError as error:
        call.fail(error)
        response = error_response(call, error)
    except Exception:
        log.exception("request %s failed inside the proxy", call.request_id)
        internal = ProxyError(500, "internal", "The proxy failed to handle this request.")
        call.fail(internal)
        response = error_response(call, internal)
    return finish(call, response, runtime)


def error_response(call: Call, error: ProxyError) -> HttpResponse:
    """The caller's error: an upstream's own 4xx passes through when it speaks the caller's API."""
    if (
        isinstance(error, UpstreamError)
        and error.upstream_status is not None
        and 400 <= error.upstream_status < 500
        and getattr(error, "provider_format", None) == call.api_format
    ):
        try:
            json.loads(error.raw_body)
        except ValueError:
            pass
        else:
            return HttpResponse(
                error.raw_body, status=error.upstream_status, content_type="application/json"
            )
    return render_error(call.api_format, error)


def finish(call: Call, response: Response, runtime: Runtime) -> Response:
    streaming = isinstance(response, StreamingHttpResponse) and call.error is None
    if not streaming:
        account(call, runtime)  # cost and spend, before the client has the answer
    response["x-llmproxy-request-id"] = call.request_id
    response["x-llmproxy-overhead-ms"] = f"{call.mark_overhead():.3f}"
    for name, value in call.response_headers.items():
        response[name] = value
    if not streaming:
        runtime.request_ended(call.to_log_entry())
    return response


async def list_models(request: HttpRequest, *, api_format: str = "openai") -> HttpResponse:
    runtime = get_runtime()
    call = begin(request, api_format=api_format, endpoint="models")
    try:
        snapshot = await runtime.config.current()
        key = await authenticate(call, snapshot, runtime)
    except ProxyError as error:
        response = render_error(api_format, error)
        response["x-llmproxy-request-id"] = call.request_id
        return response
    names = visible_models(snapshot, key.namespace_id, key.allowed_models)
    body = {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "llmproxy"} for n in names],
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["x-llmproxy-request-id"] = call.request_id
    return response
