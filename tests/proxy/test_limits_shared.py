"""Limits shared across processes through Redis (skipped when Redis is unreachable)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import Gateway
from tests.servers import free_port, start_server, stop_servers, wait_until_up

REDIS_URL = "redis://127.0.0.1:6379/2"


def redis_cache() -> Any:
    from django.core.cache.backends.redis import RedisCache

    return RedisCache(REDIS_URL, {"OPTIONS": {"socket_connect_timeout": 0.5}})


@pytest.fixture
def redis_db() -> Iterator[None]:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
        client.flushdb()  # this suite's own database number
    except Exception:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    yield
    client.flushdb()


def test_counters_on_redis_are_atomic_across_concurrent_clients(redis_db: None) -> None:
    from proxy.counters import Counters

    counters = [Counters(cache=redis_cache()) for _ in range(4)]  # four "processes"

    def hammer(index: int) -> list[int | None]:
        mine = counters[index % 4]
        if index % 2:  # the single increment and the pipelined one
            return [mine.incr("llmproxy:test:shared", 1, 60) for _ in range(50)]
        return [mine.incr_many([("llmproxy:test:shared", 1, 60)])[0] for _ in range(50)]

    with ThreadPoolExecutor(8) as pool:
        seen = [value for values in pool.map(hammer, range(8)) for value in values]
    assert sorted(v for v in seen if v is not None) == list(range(1, 401))
    assert redis_cache().get("llmproxy:test:shared") == 400


@pytest.mark.parametrize("backend", ["redis", "local memory"])
def test_counters_increment_and_read_other_keys_in_one_go(request: Any, backend: str) -> None:
    from django.core.cache.backends.locmem import LocMemCache

    from proxy.counters import Counters

    if backend == "redis":
        request.getfixturevalue("redis_db")  # skips when Redis is unreachable
        cache = redis_cache()
    else:
        cache = LocMemCache(f"counters-test-{uuid.uuid4()}", {})
    counters = Counters(cache=cache)
    counters.incr("llmproxy:test:before", 7, 60)
    values, read = counters.incr_many_and_get(
        [("llmproxy:test:now", 2, 60), ("llmproxy:test:now", 3, 60)],
        ["llmproxy:test:before", "llmproxy:test:missing"],
    )
    assert values == [2, 5] and read == [7, None]


@pytest.fixture
def two_servers(redis_db: None, gateway: Gateway) -> Iterator[list[str]]:
    ports = [free_port(), free_port()]
    processes = [start_server(port, redis_url=REDIS_URL) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_until_up(port, process)
        yield [f"http://127.0.0.1:{port}/v1" for port in ports]
    finally:
        stop_servers(processes)


def test_two_server_processes_share_one_rate_limit_through_redis(
    gateway: Gateway,
    two_servers: list[str],
    fresh_minute: None,  # last: after the servers have started
) -> None:
    import openai

    gateway.api_key.requests_per_minute = 3
    gateway.api_key.save()
    clients = [
        openai.OpenAI(base_url=url, api_key=gateway.key, max_retries=0) for url in two_servers
    ]
    ask = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    remaining = [
        clients[i]
        .chat.completions.with_raw_response.create(**ask)
        .headers["x-ratelimit-remaining-requests"]
        for i in (0, 1, 0)
    ]
    assert remaining == ["2", "1", "0"]
    for client in clients:
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(**ask)
        assert caught.value.response.headers["x-ratelimit-limit-requests"] == "3"
    assert len(gateway.fake.requests) == 3


def test_two_server_processes_share_one_budget_through_redis(
    gateway: Gateway, two_servers: list[str]
) -> None:
    import openai

    from tests.conftest import make_key

    ask = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi " * 2000}]}
    gateway.openai().chat.completions.create(**ask)  # a probe, on the in-test server
    [probe] = gateway.logs(1)
    secret, _ = make_key(name="budgeted", budget_usd=2 * probe.cost_usd, budget_period="day")
    clients = [openai.OpenAI(base_url=url, api_key=secret, max_retries=0) for url in two_servers]
    clients[0].chat.completions.create(**ask)
    clients[1].chat.completions.create(**ask)  # spend now exactly the budget
    for client in clients:
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(**ask)
        assert caught.value.body["type"] == "budget_exceeded"  # type: ignore[index]


def test_a_spend_counter_missing_from_redis_is_not_restarted_from_zero(redis_db: None) -> None:
    from proxy.counters import Counters

    counters = Counters(cache=redis_cache())
    assert counters.incr_many([("llmproxy:test:spend", 5, None)], create=False) == [None]
    counters.seed("llmproxy:test:spend", 100, None)
    assert counters.incr_many([("llmproxy:test:spend", 5, None)], create=False) == [105]


def test_an_unreachable_redis_answers_unknown_at_once_and_is_skipped_for_a_while() -> None:
    from django.core.cache.backends.redis import RedisCache

    from proxy.counters import Counters

    counters = Counters(
        cache=RedisCache("redis://127.0.0.1:9/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    )
    assert counters.incr_many([("a", 1, 60), ("b", 1, 60)]) == [None, None]
    assert not counters.available
    started = time.monotonic()
    assert counters.get_many(["a"]) is None and counters.incr("a", 1, 60) is None
    assert time.monotonic() - started < 0.05
