"""Whether a request may be answered from, or stored in, the response cache, and under what key.

A request takes part when its route enables the cache, or when it opts in itself
(`x-llmproxy-cache: on`, or `Cache-Control: max-age=N`). It opts out with
`x-llmproxy-cache: off` or `Cache-Control: no-store`; `Cache-Control: no-cache`
skips the lookup but stores the fresh answer.

The key is scoped to the namespace and the resolved route (or provider/model),
and ends with a hash of the canonical request body minus the fields that do not
change the answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from proxy.call import Call

# Body fields that change how the answer is delivered or labelled, never the answer.
IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata"})
KEY_PREFIX = "llmproxy:rc:v1:"


@dataclass(frozen=True, slots=True)
class CachePlan:
    key: str
    ttl_seconds: int
    lookup: bool  # False on `Cache-Control: no-cache` or `max-age=0`
    max_age: int | None  # the oldest entry the caller accepts (seconds), None: any


def canonical_body(body: dict[str, Any]) -> bytes:
    """The body as sorted, compact JSON, without the fields that do not change the answer."""
    kept = {name: value for name, value in body.items() if name not in IGNORED_FIELDS}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_key(call: Call) -> str:
    if call.route is not None:
        served_by = f"route:{call.route.id}:{call.route.alias}"
    elif call.plan:
        served_by = f"target:{call.plan[0].label}"
    else:
        served_by = f"model:{call.requested_model}"
    digest = hashlib.sha256()
    for part in (str(call.namespace_id), call.api_format, call.endpoint, served_by):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(canonical_body(call.body))
    return KEY_PREFIX + digest.hexdigest()


def cache_control(header: str) -> tuple[set[str], int | None]:
    """The directives of a Cache-Control header, and its max-age (None when absent or bad)."""
    directives: set[str] = set()
    max_age = None
    for part in header.split(","):
        name, _, value = part.strip().lower().partition("=")
        if not name:
            continue
        directives.add(name)
        if name == "max-age":
            try:
                max_age = max(0, int(value.strip().strip('"')))
            except ValueError:
                max_age = None
    return directives, max_age


def plan_for(call: Call) -> CachePlan | None:
    """The cache plan of a resolved request, or None when the cache stays out of it.

    A request under an output policy (output scanning, reversible redaction) never
    takes part: its answer holds values restored for this caller only, and its body
    holds placeholders that another caller's body can share.
    """
    if call.output_filters:
        return None
    switch = call.headers.get("x-llmproxy-cache", "").strip().lower()
    directives, max_age = cache_control(call.headers.get("cache-control", ""))
    if switch == "off" or "no-store" in directives:
        return None
    route_ttl = None
    if call.route is not None and call.route.cache_enabled:
        route_ttl = call.route.cache_ttl_seconds or settings.RESPONSE_CACHE_DEFAULT_TTL_SECONDS
    opted_in = switch == "on" or max_age is not None
    if route_ttl is None and not opted_in:
        return None
    ttl = max_age or route_ttl or settings.RESPONSE_CACHE_DEFAULT_TTL_SECONDS
    ttl = min(ttl, settings.RESPONSE_CACHE_MAX_TTL_SECONDS)
    return CachePlan(
        key=request_key(call),
        ttl_seconds=ttl,
        lookup="no-cache" not in directives and max_age != 0,
        max_age=max_age,
    )
