"""Routes: fallback, retries, per-target timeouts, circuit breakers, weighted split."""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

import openai
import pytest

from proxy.config import ProviderInfo, RouteInfo, TargetInfo
from proxy.fake_upstream import Behaviour
from proxy.services.routing import plan_for_route
from tests.conftest import Gateway

ASK = [{"role": "user", "content": "hello there"}]


def served_by(log: Any) -> list[str]:
    """The models tried, in order (targets skipped by an open breaker excluded)."""
    return [a["target"].rsplit("/", 1)[1] for a in log.attempts if "skipped" not in a]


def test_a_failing_primary_falls_back_to_the_next_target_unseen(
    gateway: Gateway, make_route: Any
) -> None:
    make_route("smart", ["primary", "secondary"])
    gateway.fake.by_model["primary"] = Behaviour(status=500)
    reply = gateway.openai().chat.completions.create(model="smart", messages=ASK)
    assert reply.choices[0].message.content == "echo: hello there"
    [log] = gateway.logs(1)
    assert log.status_code == 200 and log.resolved_model == "secondary"
    assert [(a["target"].split("/")[1], a["status"]) for a in log.attempts] == [
        ("primary", 500),
        ("secondary", 200),
    ]


@pytest.mark.parametrize("status", [429, 502, 503])
def test_it_falls_back_on_rate_limits_and_server_errors(
    gateway: Gateway, make_route: Any, status: int
) -> None:
    make_route("smart", ["primary", "secondary"])
    gateway.fake.by_model["primary"] = Behaviour(status=status)
    gateway.openai().chat.completions.create(model="smart", messages=ASK)
    assert served_by(gateway.logs(1)[0]) == ["primary", "secondary"]


@pytest.mark.parametrize("status", [400, 404, 422])
def test_it_never_falls_back_on_the_clients_own_error(
    gateway: Gateway, make_route: Any, status: int
) -> None:
    make_route("smart", ["primary", "secondary"])
    gateway.fake.by_model["primary"] = Behaviour(status=status)
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.openai().chat.completions.create(model="smart", messages=ASK)
    assert caught.value.status_code == status
    assert served_by(gateway.logs(1)[0]) == ["primary"]
    assert [r["json"]["model"] for r in gateway.fake.requests] == ["primary"]


def test_it_falls_back_when_a_target_times_out(gateway: Gateway, make_route: Any) -> None:
    make_route("smart", ["slow", "fast"], timeouts=[0.3, None])
    gateway.fake.by_model["slow"] = Behaviour(delay=2)
    started = time.monotonic()
    gateway.openai().chat.completions.create(model="smart", messages=ASK)
    assert time.monotonic() - started < 1.5
    [log] = gateway.logs(1)
    assert log.resolved_model == "fast" and log.attempts[0]["status"] == 504


def test_it_falls_back_when_a_target_cannot_be_reached(gateway: Gateway, make_route: Any) -> None:
    from proxy.models import Provider

    make_route("smart", ["primary", "secondary"])
    Provider.objects.filter(name="fake-smart-0").update(base_url="http://127.0.0.1:9/v1")
    from proxy.runtime import get_runtime

    get_runtime().invalidate_config()
    gateway.openai().chat.completions.create(model="smart", messages=ASK)
    [log] = gateway.logs(1)
    assert log.attempts[0]["status"] == 502 and log.resolved_model == "secondary"


def test_when_every_target_fails_the_client_gets_the_last_error(
    gateway: Gateway, make_route: Any
) -> None:
    make_route("smart", ["primary", "secondary"])
    gateway.fake.by_model["primary"] = Behaviour(status=500)
    gateway.fake.by_model["secondary"] = Behaviour(status=503)
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.openai().chat.completions.create(model="smart", messages=ASK)
    assert caught.value.status_code == 502
    assert served_by(gateway.logs(1)[0]) == ["primary", "secondary"]


def test_a_stream_falls_back_before_its_first_byte(gateway: Gateway, make_route: Any) -> None:
    make_route("smart", ["primary", "secondary"])
    gateway.fake.by_model["primary"] = Behaviour(status=503)
    chunks = list(
        gateway.openai().chat.completions.create(model="smart", messages=ASK, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there"
    assert served_by(gateway.logs(1)[0]) == ["primary", "secondary"]


def test_a_stream_broken_after_its_first_byte_is_not_replayed_elsewhere(
    gateway: Gateway, make_route: Any
) -> None:
    make_route("smart", ["primary", "secondary"])
    gateway.fake.by_model["primary"] = Behaviour(disconnect_after=1)
    stream = gateway.openai().chat.completions.create(model="smart", messages=ASK, stream=True)
    with pytest.raises(openai.APIError):
        list(stream)
    assert [r["json"]["model"] for r in gateway.fake.requests] == ["primary"]


def test_retries_wait_for_the_upstreams_retry_after(
    gateway: Gateway, make_route: Any, settings: Any
) -> None:
    settings.ROUTING_RETRIES = 1
    make_route("smart", ["primary", "secondary"])
    gateway.fake.then(status=429, retry_after="0.4")
    started = time.monotonic()
    gateway.openai().chat.completions.create(model="smart", messages=ASK)
    waited = time.monotonic() - started
    [log] = gateway.logs(1)
    assert served_by(log) == ["primary", "primary"]
    assert log.attempts[0]["retry_in_ms"] == 400.0
    assert 0.4 <= waited < 2


def test_a_retry_after_beyond_the_maximum_moves_on_at_once(
    gateway: Gateway, make_route: Any, settings: Any
) -> None:
    settings.ROUTING_RETRIES = 2
    settings.ROUTING_MAX_RETRY_WAIT = 1.0
    make_route("smart", ["primary", "secondary"])
    gateway.fake.then(status=429, retry_after="30")
    started = time.monotonic()
    gateway.openai().chat.completions.create(model="smart", messages=ASK)
    assert time.monotonic() - started < 1
    assert served_by(gateway.logs(1)[0]) == ["primary", "secondary"]


def test_retries_back_off_exponentially_with_jitter(
    gateway: Gateway, make_route: Any, settings: Any
) -> None:
    settings.ROUTING_RETRIES = 2
    settings.ROUTING_BACKOFF_BASE = 0.1
    make_route("smart", ["only"], strategy="single")
    gateway.fake.then(status=500).then(status=500)
    gateway.openai().chat.completions.create(model="smart", messages=ASK)
    [log] = gateway.logs(1)
    first, second = log.attempts[0]["retry_in_ms"], log.attempts[1]["retry_in_ms"]
    assert 50 <= first <= 100 and 100 <= second <= 200
    assert served_by(log) == ["only", "only", "only"]


def test_the_circuit_breaker_sidelines_a_failing_target_and_recovers(
    gateway: Gateway, make_route: Any, settings: Any
) -> None:
    settings.ROUTING_BREAKER_FAILURES = 2
    settings.ROUTING_BREAKER_COOLDOWN = 0.5
    make_route("smart", ["primary", "secondary"])
    gateway.fake.by_model["primary"] = Behaviour(status=500)
    client = gateway.openai()
    for _ in range(3):
        client.chat.completions.create(model="smart", messages=ASK)
    logs = gateway.logs(3)
    assert served_by(logs[0]) == ["secondary"]  # the third: primary is sidelined
    assert logs[0].attempts[0] == {"target": "fake-smart-0/primary", "skipped": "circuit_open"}
    del gateway.fake.by_model["primary"]
    time.sleep(0.6)
    client.chat.completions.create(model="smart", messages=ASK)  # the trial request
    client.chat.completions.create(model="smart", messages=ASK)
    newest = gateway.logs(5)[:2]
    assert [served_by(log) for log in newest] == [["primary"], ["primary"]]


def test_when_every_target_is_sidelined_the_client_gets_503_with_retry_after(
    gateway: Gateway, make_route: Any, settings: Any
) -> None:
    settings.ROUTING_BREAKER_FAILURES = 1
    settings.ROUTING_BREAKER_COOLDOWN = 30
    make_route("smart", ["only"], strategy="single")
    gateway.fake.by_model["only"] = Behaviour(status=500)
    client = gateway.openai()
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="smart", messages=ASK)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="smart", messages=ASK)
    assert caught.value.status_code == 503
    assert 25 <= int(caught.value.response.headers["retry-after"]) <= 30
    assert len(gateway.fake.requests) == 1


def test_a_weighted_route_splits_traffic_by_weight(gateway: Gateway, make_route: Any) -> None:
    from proxy.runtime import get_runtime

    make_route("split", ["big", "small"], strategy="weighted", weights=[3, 1])
    get_runtime().rng.seed(7)
    client = gateway.openai()
    for _ in range(40):
        client.chat.completions.create(model="split", messages=ASK)
    served = Counter(r["json"]["model"] for r in gateway.fake.requests)
    assert 24 <= served["big"] <= 36 and served["big"] + served["small"] == 40


def target(model: str, weight: int = 1, priority: int = 0) -> TargetInfo:
    provider = ProviderInfo(
        id=1,
        name="p",
        kind="openai",
        base_url="http://x",
        api_key="",
        timeout_seconds=None,
        extra_headers={},
        models=(),
    )
    return TargetInfo(provider=provider, model=model, weight=weight, priority=priority)


def route(strategy: str, *targets: TargetInfo) -> RouteInfo:
    return RouteInfo(id=1, alias="r", namespace_id=None, strategy=strategy, targets=targets)


def test_the_weighted_plan_draws_the_first_target_by_weight_and_keeps_the_rest_as_fallbacks() -> (
    None
):
    weighted = route("weighted", target("a", 1, 0), target("b", 3, 1), target("c", 0, 2))
    rng = random.Random(1)
    firsts = Counter(plan_for_route(weighted, rng)[0].model for _ in range(4000))
    assert firsts["c"] == 0
    assert 0.70 < firsts["b"] / 4000 < 0.80
    plan = plan_for_route(weighted, rng)
    assert sorted(t.model for t in plan) == ["a", "b", "c"]


def test_single_and_fallback_plans_follow_priority() -> None:
    targets = (target("second", priority=2), target("first", priority=1))
    assert [t.model for t in plan_for_route(route("single", *targets))] == ["first"]
    assert [t.model for t in plan_for_route(route("fallback", *targets))] == ["first", "second"]


def test_a_weighted_route_whose_weights_are_all_zero_follows_priority() -> None:
    zero = route("weighted", target("b", 0, 1), target("a", 0, 0))
    assert [t.model for t in plan_for_route(zero, random.Random(0))] == ["a", "b"]
