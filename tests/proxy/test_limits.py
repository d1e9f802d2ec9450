"""Rate limits and budgets: they trip exactly at their thresholds, in the caller's format."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import openai
import pytest

from tests.conftest import Gateway, make_key

pytestmark = pytest.mark.usefixtures("fresh_minute")

ASK = [{"role": "user", "content": "count my tokens please"}]


def set_limits(row: Any, **limits: Any) -> None:
    from proxy.runtime import get_runtime

    for name, value in limits.items():
        setattr(row, name, value)
    row.save()
    get_runtime().invalidate_config()


def ask(client: Any, *, stream: bool = False, model: str = "gpt-4o") -> Any:
    if stream:
        response = client.chat.completions.with_raw_response.create(
            model=model, messages=ASK, stream=True
        )
        list(response.parse())
        return response
    return client.chat.completions.with_raw_response.create(model=model, messages=ASK)


def refused(client: Any, **kwargs: Any) -> openai.APIStatusError:
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, **kwargs)
    return caught.value


def test_requests_per_minute_trip_exactly_at_the_limit(gateway: Gateway) -> None:
    set_limits(gateway.api_key, requests_per_minute=3)
    client = gateway.openai()
    remaining = [ask(client).headers["x-ratelimit-remaining-requests"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    error = refused(client)
    assert error.status_code == 429
    assert error.body["type"] == "rate_limit_exceeded"  # type: ignore[index]
    assert 1 <= int(error.response.headers["retry-after"]) <= 60
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(gateway.fake.requests) == 3
    [log] = gateway.logs(4)[:1]
    assert log.status_code == 429 and log.error_type == "rate_limit"


def test_requests_of_the_previous_minute_still_count_in_the_sliding_window(
    gateway: Gateway,
) -> None:
    import math
    import time

    from proxy.runtime import get_runtime

    set_limits(gateway.api_key, requests_per_minute=10)
    previous = int(time.time() // 60) - 1
    name = f"llmproxy:rl:key:{gateway.api_key.id}:requests:{previous}"
    get_runtime().counters.incr(name, 60, 120)  # a burst of 60 at the end of last minute
    error = refused(gateway.openai())
    elapsed = time.time() % 60  # early in the minute (fresh_minute): 60 × (1 - e/60) > 10
    # 60 × (1 - e/60) drops below 10 at e = 50 s
    assert abs(int(error.response.headers["retry-after"]) - math.ceil(50 - elapsed)) <= 1
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert gateway.fake.requests == []


def test_the_wait_for_room_follows_the_fading_previous_minute() -> None:
    from proxy.services.limits import wait_for_room

    # 60 last minute, none this minute, limit 10, 5 s in: room at 50 s
    assert wait_for_room(10, 60, 0, 5.0) == pytest.approx(45.0)
    # this minute already at the limit: its own count fades out during the next one
    assert wait_for_room(10, 0, 10, 15.0) == pytest.approx(45.0)
    assert wait_for_room(10, 0, 20, 15.0) == pytest.approx(45.0 + 30.0)


def test_when_two_limits_refuse_the_client_is_told_the_longer_wait(gateway: Gateway) -> None:
    import math
    import time

    from proxy.runtime import get_runtime

    set_limits(gateway.api_key, requests_per_minute=10)
    set_limits(gateway.namespace, requests_per_minute=10)
    previous = int(time.time() // 60) - 1
    counters = get_runtime().counters
    counters.incr(f"llmproxy:rl:key:{gateway.api_key.id}:requests:{previous}", 60, 120)
    counters.incr(f"llmproxy:rl:namespace:{gateway.namespace.id}:requests:{previous}", 100, 120)
    error = refused(gateway.openai())
    elapsed = time.time() % 60
    # the key's 60 fade below 10 at 50 s, the namespace's 100 only at 54 s
    assert abs(int(error.response.headers["retry-after"]) - math.ceil(54 - elapsed)) <= 1
    assert "namespace" in error.message


def test_admitted_responses_carry_openais_rate_limit_headers(gateway: Gateway) -> None:
    set_limits(gateway.api_key, requests_per_minute=10, tokens_per_minute=10_000)
    headers = ask(gateway.openai()).headers
    assert headers["x-ratelimit-limit-requests"] == "10"
    assert headers["x-ratelimit-remaining-requests"] == "9"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert headers["x-ratelimit-limit-tokens"] == "10000"
    assert 0 < int(headers["x-ratelimit-remaining-tokens"]) < 10_000
    assert headers["x-ratelimit-reset-tokens"].endswith("s")


def test_a_namespace_limit_is_shared_by_its_keys(gateway: Gateway) -> None:
    set_limits(gateway.namespace, requests_per_minute=2)
    other_secret, _ = make_key(namespace=gateway.namespace.name, name="other")
    ask(gateway.openai())
    ask(gateway.openai(api_key=other_secret))
    error = refused(gateway.openai(api_key=other_secret))
    assert "namespace" in error.message


def test_a_key_refused_by_its_namespace_does_not_use_up_its_own_allowance(
    gateway: Gateway,
) -> None:
    set_limits(gateway.namespace, requests_per_minute=1)
    set_limits(gateway.api_key, requests_per_minute=5)
    client = gateway.openai()
    assert ask(client).headers["x-ratelimit-remaining-requests"] == "0"  # the tightest
    refused(client)
    refused(client)
    set_limits(gateway.namespace, requests_per_minute=None)
    assert ask(client).headers["x-ratelimit-remaining-requests"] == "3"


def test_tokens_per_minute_trip_exactly_at_the_limit_with_actual_usage(gateway: Gateway) -> None:
    ask(gateway.openai(api_key=make_key(name="probe")[0]))
    [probe] = gateway.logs(1)
    per_request = probe.prompt_tokens + probe.completion_tokens
    set_limits(gateway.api_key, tokens_per_minute=2 * per_request)
    client = gateway.openai()
    first = ask(client)
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 2 * per_request
    ask(client, stream=True)  # actual usage: 2 x per_request, exactly the limit
    error = refused(client)
    assert "tokens per minute" in error.message
    assert error.response.headers["x-ratelimit-limit-tokens"] == str(2 * per_request)


def test_tokens_one_below_the_limit_still_admit_a_request(gateway: Gateway) -> None:
    ask(gateway.openai(api_key=make_key(name="probe")[0]))
    [probe] = gateway.logs(1)
    per_request = probe.prompt_tokens + probe.completion_tokens
    set_limits(gateway.api_key, tokens_per_minute=2 * per_request + 1)
    client = gateway.openai()
    ask(client)
    ask(client)
    ask(client)  # 2 x per_request used < limit: admitted
    refused(client)


def cost_of_one(gateway: Gateway, *, stream: bool = False) -> Decimal:
    ask(gateway.openai(api_key=make_key(name="probe")[0]), stream=stream)
    [probe] = gateway.logs(1)
    assert probe.cost_usd
    return Decimal(probe.cost_usd)


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
def test_a_key_budget_trips_exactly_when_spent(gateway: Gateway, stream: bool) -> None:
    one = cost_of_one(gateway, stream=stream)
    set_limits(gateway.api_key, budget_usd=2 * one, budget_period="day")
    client = gateway.openai()
    ask(client, stream=stream)
    ask(client, stream=stream)
    error = refused(client, stream=stream)
    assert error.status_code == 429
    assert error.body["type"] == "budget_exceeded"  # type: ignore[index]
    assert error.body["code"] == "budget_exceeded"  # type: ignore[index]
    assert 0 < int(error.response.headers["retry-after"]) <= 86400
    assert len(gateway.fake.requests) == 3  # the probe and two


def test_a_budget_a_fraction_above_the_spend_admits_one_more(gateway: Gateway) -> None:
    one = cost_of_one(gateway)
    set_limits(gateway.api_key, budget_usd=one + Decimal("0.00000001"), budget_period="month")
    client = gateway.openai()
    ask(client)
    ask(client)  # spend (one) is below the budget: admitted, and now over it
    refused(client)


def test_a_namespace_budget_counts_every_key(gateway: Gateway) -> None:
    one = cost_of_one(gateway)  # the probe key is in the same namespace: it counts
    set_limits(gateway.namespace, budget_usd=2 * one, budget_period="total")
    ask(gateway.openai())
    error = refused(gateway.openai())
    assert "namespace" in error.message and "retry-after" not in error.response.headers


def test_spend_survives_a_cache_restart_through_the_request_log(gateway: Gateway) -> None:
    from proxy.runtime import get_runtime

    one = cost_of_one(gateway)
    set_limits(gateway.api_key, budget_usd=2 * one, budget_period="month")
    client = gateway.openai()
    ask(client)
    ask(client)
    gateway.logs(3)  # stored
    get_runtime().counters.cache.clear()  # Redis restarted, or the process
    refused(client)


def ask_for(client: Any, max_tokens: int) -> Any:
    return client.chat.completions.create(model="gpt-4o", messages=ASK, max_tokens=max_tokens)


def test_a_request_in_flight_holds_its_estimated_cost_against_the_budget(
    gateway: Gateway,
) -> None:
    import threading
    import time

    set_limits(gateway.api_key, budget_usd=Decimal("0.01"), budget_period="day")
    client = gateway.openai()
    gateway.fake.then(delay=1.5)  # the first request stays in flight
    slow = threading.Thread(target=ask_for, args=(client, 2000))  # may cost up to ~$0.02
    slow.start()
    deadline = time.monotonic() + 5
    while not gateway.fake.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(openai.RateLimitError) as caught:
        ask_for(client, 10)
    assert caught.value.body["code"] == "budget_exceeded"  # type: ignore[index]
    assert "held by requests in flight" in caught.value.message
    slow.join()
    ask_for(client, 10)  # the hold is released; its actual cost is far below the budget
    assert len(gateway.fake.requests) == 2


def test_a_failed_request_releases_its_hold(gateway: Gateway) -> None:
    set_limits(gateway.api_key, budget_usd=Decimal("0.01"), budget_period="day")
    client = gateway.openai()
    gateway.fake.then(status=400)
    with pytest.raises(openai.BadRequestError):
        ask_for(client, 2000)
    ask_for(client, 2000)  # nothing was spent, nothing is held any more
    ask_for(client, 2000)


def test_a_hold_older_than_the_hold_window_no_longer_counts(gateway: Gateway) -> None:
    import time
    from datetime import UTC, datetime

    from proxy.runtime import get_runtime
    from proxy.selectors import period_start
    from proxy.services.limits import HOLD_BUCKET_SECONDS, budget_key, hold_key

    set_limits(gateway.api_key, budget_usd=Decimal("0.01"), budget_period="day")
    spend = budget_key("key", gateway.api_key.pk, "day", period_start("day", datetime.now(UTC)))
    bucket = int(time.time() // HOLD_BUCKET_SECONDS)
    counters = get_runtime().counters
    counters.incr_many([(hold_key(spend, bucket - 3), 10**9, 60)])  # $1, left by a crash
    ask_for(gateway.openai(), 10)
    counters.incr_many([(hold_key(spend, bucket - 1), 10**9, 60)])  # $1, minutes ago
    with pytest.raises(openai.RateLimitError):
        ask_for(gateway.openai(), 10)


def test_an_unknown_price_does_not_count_towards_a_budget(gateway: Gateway) -> None:
    set_limits(gateway.api_key, budget_usd=Decimal("0.000001"), budget_period="day")
    client = gateway.openai()
    for _ in range(3):
        ask(client, model="my-local-llama")


class BrokenCache:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("cache down")

        return fail


def test_limits_fail_open_when_the_cache_is_down(gateway: Gateway) -> None:
    from proxy.counters import Counters
    from proxy.runtime import get_runtime

    set_limits(gateway.api_key, requests_per_minute=1, budget_usd=Decimal("0.000001"))
    get_runtime().counters = Counters(cache=BrokenCache())  # type: ignore[arg-type]
    client = gateway.openai()
    for _ in range(3):
        ask(client)


def test_budgets_can_fail_closed_when_the_cache_is_down(gateway: Gateway, settings: Any) -> None:
    from proxy.counters import Counters
    from proxy.runtime import get_runtime

    settings.BUDGETS_FAIL_CLOSED = True
    set_limits(gateway.api_key, budget_usd=Decimal("5"))
    get_runtime().counters = Counters(cache=BrokenCache())  # type: ignore[arg-type]
    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway.openai())
    assert caught.value.status_code == 503
    assert json.loads(caught.value.response.text)["error"]["code"] == "budget_unavailable"


def database_down_for_spend(monkeypatch: Any) -> None:
    from django.db.utils import OperationalError

    def unreachable(*args: Any) -> Any:
        raise OperationalError("connection refused")

    from proxy.runtime import get_runtime

    monkeypatch.setattr("proxy.services.limits.spend_since", unreachable)
    monkeypatch.setattr(get_runtime(), "_database_down_until", 0.0)  # restored afterwards


def test_a_first_budget_check_admits_the_request_when_the_database_is_down(
    gateway: Gateway, monkeypatch: Any
) -> None:
    set_limits(gateway.api_key, budget_usd=Decimal("5"))
    database_down_for_spend(monkeypatch)
    ask(gateway.openai())
    monkeypatch.undo()  # the outage is over
    ask(gateway.openai())  # the spend is seeded now, from the log
    assert len(gateway.fake.requests) == 2


def test_a_first_budget_check_refuses_with_503_when_the_database_is_down_and_budgets_fail_closed(
    gateway: Gateway, monkeypatch: Any, settings: Any
) -> None:
    settings.BUDGETS_FAIL_CLOSED = True
    set_limits(gateway.api_key, budget_usd=Decimal("5"))
    database_down_for_spend(monkeypatch)
    with pytest.raises(openai.APIStatusError) as caught:
        ask(gateway.openai())
    assert caught.value.status_code == 503
    assert json.loads(caught.value.response.text)["error"]["code"] == "budget_unavailable"
    assert gateway.fake.requests == []


def test_a_request_refused_upstream_gives_back_its_token_reservation(gateway: Gateway) -> None:
    set_limits(gateway.api_key, tokens_per_minute=100_000)
    gateway.fake.then(status=400)
    with pytest.raises(openai.BadRequestError):
        ask(gateway.openai())
    after_refusal = ask(gateway.openai()).headers["x-ratelimit-remaining-tokens"]
    fresh_secret, _ = make_key(name="fresh", tokens_per_minute=100_000)
    fresh = ask(gateway.openai(api_key=fresh_secret)).headers["x-ratelimit-remaining-tokens"]
    assert after_refusal == fresh  # only the admitted request's reservation is counted


def test_keys_without_limits_get_no_rate_limit_headers(gateway: Gateway) -> None:
    headers = ask(gateway.openai()).headers
    assert "x-ratelimit-limit-requests" not in headers


def test_limit_refusals_render_in_anthropics_error_format_too() -> None:
    from proxy.errors import render_error
    from proxy.services.limits import rate_limited

    response = render_error("anthropic", rate_limited("requests", "key", 3, 12.2))
    assert response.status_code == 429 and response["retry-after"] == "13"
    assert json.loads(response.content) == {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Rate limit reached: 3 requests per minute for this key. Try again in 13s.",
        },
    }


def test_reset_durations_use_openais_format() -> None:
    from proxy.services.limits import duration

    assert [duration(s) for s in (0.25, 1, 12.2, 65)] == ["250ms", "1s", "13s", "1m5s"]
