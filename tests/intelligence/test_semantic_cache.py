"""The semantic cache answers a paraphrase of a cached single-turn request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from intelligence.models import SemanticCacheEntry, SemanticCacheSetting
from tests.conftest import Gateway
from tests.intelligence.conftest import ask

ALIAS = "cached-chat"


@pytest.fixture
def cached_route(gateway: Gateway) -> Iterator[Any]:
    from proxy.models import Route, RouteTarget

    route = Route.objects.create(alias=ALIAS)
    RouteTarget.objects.create(route=route, provider=gateway.provider, model="gpt-4o-mini")
    setting = SemanticCacheSetting.objects.create(route=route, threshold=0.6)
    yield setting


def wait_for_entries(count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while SemanticCacheEntry.objects.count() < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert SemanticCacheEntry.objects.count() >= count


def test_a_paraphrase_is_answered_from_the_cache_at_no_cost(
    gateway: Gateway, cached_route: Any
) -> None:
    first = ask(gateway, "What is the capital of France?", model=ALIAS)
    assert "x-llmproxy-cache" not in first.headers
    wait_for_entries(1)
    again = ask(gateway, "Tell me the capital city of France.", model=ALIAS)
    assert again.headers["x-llmproxy-cache"] == "semantic-hit"
    assert again.parse().choices[0].message.content == "echo: What is the capital of France?"
    assert len(gateway.fake.requests) == 1
    hit = gateway.logs(2)[0]
    assert hit.annotations["semantic_cache"]["hit"] is True
    assert (
        hit.annotations["semantic_cache"]["source_request"]
        == first.headers["x-llmproxy-request-id"]
    )
    assert hit.cost_usd == Decimal(0) and hit.status_code == 200
    assert SemanticCacheEntry.objects.get().hits == 1


def test_a_cache_hit_is_replayed_as_a_stream_when_asked(
    gateway: Gateway, cached_route: Any
) -> None:
    ask(gateway, "How do I reverse a list in Python?", model=ALIAS)
    wait_for_entries(1)
    stream = gateway.openai().chat.completions.create(
        model=ALIAS,
        messages=[{"role": "user", "content": "What's the way to reverse a Python list?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: How do I reverse a list in Python?"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 0
    assert len(gateway.fake.requests) == 1
    assert gateway.logs(2)[0].annotations["semantic_cache"]["hit"] is True


def test_unrelated_prompts_and_other_system_prompts_miss(
    gateway: Gateway, cached_route: Any
) -> None:
    ask(gateway, "What is the capital of France?", model=ALIAS)
    wait_for_entries(1)
    miss = ask(gateway, "Write a limerick about a sleepy cat.", model=ALIAS)
    assert "x-llmproxy-cache" not in miss.headers
    other_system = ask(
        gateway,
        "",
        model=ALIAS,
        messages=[
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
    )
    assert "x-llmproxy-cache" not in other_system.headers
    assert len(gateway.fake.requests) == 3


def test_multi_turn_and_tool_requests_bypass_the_cache(gateway: Gateway, cached_route: Any) -> None:
    ask(gateway, "What is the capital of France?", model=ALIAS)
    wait_for_entries(1)
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    assert "x-llmproxy-cache" not in ask(gateway, "", model=ALIAS, messages=turns).headers
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    assert (
        "x-llmproxy-cache"
        not in ask(gateway, "What is the capital of France?", model=ALIAS, tools=tools).headers
    )
    logs = gateway.logs(3)
    assert (
        "semantic_cache" not in logs[0].annotations and "semantic_cache" not in logs[1].annotations
    )


def test_routes_without_the_setting_never_look_up(gateway: Gateway) -> None:
    ask(gateway, "What is the capital of France?")
    ask(gateway, "Tell me the capital city of France.")
    assert len(gateway.fake.requests) == 2
    assert "semantic_cache" not in gateway.logs(2)[0].annotations
    assert not SemanticCacheEntry.objects.exists()


def test_a_lookup_the_database_cannot_answer_is_a_miss_and_the_request_goes_upstream(
    gateway: Gateway, cached_route: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db.utils import OperationalError

    from proxy.runtime import get_runtime

    def unreachable(*args: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr("intelligence.services.semantic_cache.cache_lookup", unreachable)
    monkeypatch.setattr(get_runtime(), "_database_down_until", 0.0)  # restored afterwards
    answer = ask(gateway, "What is the capital of France?", model=ALIAS)
    assert answer.parse().choices[0].message.content == "echo: What is the capital of France?"
    assert len(gateway.fake.requests) == 1
    assert gateway.logs(1)[0].annotations["semantic_cache"] == {"hit": False, "unavailable": True}


def test_the_threshold_is_tunable(gateway: Gateway, cached_route: Any) -> None:
    ask(gateway, "What is the capital of France?", model=ALIAS)
    wait_for_entries(1)
    cached_route.threshold = 0.99
    cached_route.save()
    assert (
        "x-llmproxy-cache"
        not in ask(gateway, "Tell me the capital city of France.", model=ALIAS).headers
    )


def test_a_streamed_answer_is_cached_once_its_stream_has_ended(
    gateway: Gateway, cached_route: Any
) -> None:
    stream = gateway.openai().chat.completions.create(
        model=ALIAS,
        messages=[{"role": "user", "content": "Who wrote Pride and Prejudice?"}],
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    wait_for_entries(1)
    again = ask(gateway, "Pride and Prejudice was written by whom?", model=ALIAS)
    assert again.headers["x-llmproxy-cache"] == "semantic-hit"
    assert again.parse().choices[0].message.content == "echo: Who wrote Pride and Prejudice?"
    assert len(gateway.fake.requests) == 1


def test_a_cut_stream_is_not_cached(gateway: Gateway, cached_route: Any) -> None:
    import openai

    gateway.fake.then(disconnect_after=2)
    with pytest.raises(openai.APIError):
        stream = gateway.openai().chat.completions.create(
            model=ALIAS,
            messages=[{"role": "user", "content": "Who wrote Pride and Prejudice?"}],
            stream=True,
        )
        list(stream)
    gateway.logs(1)
    time.sleep(0.2)
    assert not SemanticCacheEntry.objects.exists()
