"""The cache's policy: which requests take part, and when two requests are the same."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.call import Call
from proxy.config import KeyInfo, RouteInfo
from proxy.services.response_cache.policy import cache_control, canonical_body, plan_for

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def make_call(
    headers: dict[str, str] | None = None,
    *,
    namespace_id: int = 1,
    cache_enabled: bool = False,
    ttl: int | None = None,
    body: dict[str, Any] | None = None,
) -> Call:
    call = Call(api_format="openai", endpoint="chat", headers=headers or {})
    call.key = KeyInfo(1, "k", "lp-x", namespace_id, "ns", "active", (), None)
    call.route = RouteInfo(
        7, "cached", None, "single", (), cache_enabled=cache_enabled, cache_ttl_seconds=ttl
    )
    call.body = dict(body or BODY)
    call.requested_model = "cached"
    return call


def test_fields_that_do_not_change_the_answer_are_left_out_and_order_does_not_matter() -> None:
    reordered = {"temperature": 0, "messages": BODY["messages"], "model": "m"}
    noisy = {**BODY, "stream": True, "stream_options": {"include_usage": True}, "user": "u"}
    noisy["metadata"] = {"session_id": "s"}
    assert canonical_body(reordered) == canonical_body(BODY) == canonical_body(noisy)
    assert canonical_body({**BODY, "temperature": 1}) != canonical_body(BODY)


def test_cache_control_is_read_leniently() -> None:
    assert cache_control('max-age="60", Private') == ({"max-age", "private"}, 60)
    assert cache_control("no-cache") == ({"no-cache"}, None)
    assert cache_control("max-age=soon") == ({"max-age"}, None)
    assert cache_control("") == (set(), None)


def test_the_cache_stays_out_unless_the_route_or_the_request_asks() -> None:
    assert plan_for(make_call()) is None
    assert plan_for(make_call({"x-llmproxy-cache": "on"})) is not None
    assert plan_for(make_call(cache_enabled=True)) is not None


@pytest.mark.parametrize(
    "headers",
    [{"x-llmproxy-cache": "off"}, {"cache-control": "no-store"}, {"x-llmproxy-cache": " OFF "}],
)
def test_a_request_can_opt_out_of_a_cached_route(headers: dict[str, str]) -> None:
    assert plan_for(make_call(headers, cache_enabled=True)) is None


def test_the_ttl_comes_from_max_age_then_the_route_then_the_default(settings: Any) -> None:
    settings.RESPONSE_CACHE_DEFAULT_TTL_SECONDS = 111
    settings.RESPONSE_CACHE_MAX_TTL_SECONDS = 1000
    assert plan_for(make_call({"x-llmproxy-cache": "on"})).ttl_seconds == 111  # type: ignore[union-attr]
    assert plan_for(make_call(cache_enabled=True, ttl=50)).ttl_seconds == 50  # type: ignore[union-attr]
    with_age = plan_for(make_call({"cache-control": "max-age=70"}, cache_enabled=True, ttl=50))
    assert with_age is not None and with_age.ttl_seconds == 70 and with_age.max_age == 70
    capped = plan_for(make_call({"cache-control": "max-age=99999"}))
    assert capped is not None and capped.ttl_seconds == 1000


def test_no_cache_and_max_age_zero_skip_the_lookup_but_still_store() -> None:
    for header in ("no-cache", "max-age=0"):
        plan = plan_for(make_call({"cache-control": header}, cache_enabled=True))
        assert plan is not None and not plan.lookup


def test_the_key_differs_by_namespace_and_body_but_not_by_stream() -> None:
    key = plan_for(make_call(cache_enabled=True)).key  # type: ignore[union-attr]
    other_namespace = plan_for(make_call(cache_enabled=True, namespace_id=2))
    streamed = plan_for(make_call(cache_enabled=True, body={**BODY, "stream": True}))
    other_body = plan_for(make_call(cache_enabled=True, body={**BODY, "seed": 1}))
    assert other_namespace is not None and other_namespace.key != key
    assert other_body is not None and other_body.key != key
    assert streamed is not None and streamed.key == key
