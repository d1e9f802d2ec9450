"""The exact-match response cache, driven through the official `openai` SDK."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateway, make_key

HELLO = [{"role": "user", "content": "hello cache"}]


def ask(client: Any, model: str = "cached", **kwargs: Any) -> Any:
    kwargs.setdefault("messages", HELLO)
    return client.chat.completions.with_raw_response.create(model=model, **kwargs)


def streamed_text(stream: Any) -> tuple[str, list[Any]]:
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def test_a_cached_route_answers_the_second_identical_request_from_the_cache(
    gateway: Gateway, cached_route: Any
) -> None:
    client = gateway.openai()
    first = ask(client)
    second = ask(client)
    assert first.headers["x-llmproxy-cache"] == "miss"
    assert second.headers["x-llmproxy-cache"] == "hit"
    assert len(gateway.fake.requests) == 1
    assert second.parse().model_dump() == first.parse().model_dump()


def test_a_hit_is_logged_as_a_hit_that_cost_nothing(gateway: Gateway, cached_route: Any) -> None:
    client = gateway.openai()
    ask(client)
    hit = ask(client)
    logs = gateway.logs(2)
    by_id = {log.id: log for log in logs}
    hit_log = by_id[hit.headers["x-llmproxy-request-id"]]
    miss_log = next(log for log in logs if log is not hit_log)
    assert hit_log.annotations["cache"] == "hit"
    assert hit_log.annotations["cache_source"]["request_id"] == miss_log.id
    assert hit_log.cost_usd == Decimal(0)
    assert hit_log.status_code == 200 and hit_log.upstream_ms is None
    assert hit_log.prompt_tokens == miss_log.prompt_tokens > 0
    assert hit_log.completion_tokens == miss_log.completion_tokens
    assert miss_log.annotations["cache"] == "miss"
    assert miss_log.annotations["cache_store"] == "stored"


def test_fields_that_do_not_change_the_answer_share_an_entry(
    gateway: Gateway, cached_route: Any
) -> None:
    client = gateway.openai()
    ask(client, user="alice", metadata={"session_id": "s1"})
    again = ask(client, user="bob", metadata={"session_id": "s2"})
    assert again.headers["x-llmproxy-cache"] == "hit"


def test_a_different_request_is_a_miss(gateway: Gateway, cached_route: Any) -> None:
    client = gateway.openai()
    ask(client)
    assert ask(client, temperature=0.5).headers["x-llmproxy-cache"] == "miss"
    other = ask(client, messages=[{"role": "user", "content": "something else"}])
    assert other.headers["x-llmproxy-cache"] == "miss"
    assert other.parse().choices[0].message.content == "echo: something else"
    assert len(gateway.fake.requests) == 3


def test_an_entry_expires_after_the_route_ttl(gateway: Gateway, cached_route: Any) -> None:
    cached_route.cache_ttl_seconds = 1
    cached_route.save()
    client = gateway.openai()
    ask(client)
    assert ask(client).headers["x-llmproxy-cache"] == "hit"
    time.sleep(1.2)
    assert ask(client).headers["x-llmproxy-cache"] == "miss"
    assert len(gateway.fake.requests) == 2


def test_a_key_of_another_namespace_never_hits_its_entries(
    gateway: Gateway, cached_route: Any
) -> None:
    ask(gateway.openai())
    other_secret, _ = make_key(namespace="team-b", name="b")
    other = gateway.openai(api_key=other_secret)
    assert ask(other).headers["x-llmproxy-cache"] == "miss"
    assert ask(other).headers["x-llmproxy-cache"] == "hit"
    assert len(gateway.fake.requests) == 2


def test_without_a_cached_route_or_opt_in_nothing_is_cached(gateway: Gateway) -> None:
    client = gateway.openai()
    first = ask(client, model="plain-model")
    ask(client, model="plain-model")
    assert "x-llmproxy-cache" not in first.headers
    assert len(gateway.fake.requests) == 2
    assert "cache" not in gateway.logs(2)[0].annotations


def test_a_request_opts_in_with_the_cache_header(gateway: Gateway) -> None:
    client = gateway.openai(default_headers={"x-llmproxy-cache": "on"})
    assert ask(client, model="plain-model").headers["x-llmproxy-cache"] == "miss"
    assert ask(client, model="plain-model").headers["x-llmproxy-cache"] == "hit"
    assert len(gateway.fake.requests) == 1


def test_a_request_opts_in_with_max_age_and_refuses_older_entries(gateway: Gateway) -> None:
    client = gateway.openai(default_headers={"cache-control": "max-age=60"})
    ask(client, model="plain-model")
    assert ask(client, model="plain-model").headers["x-llmproxy-cache"] == "hit"
    time.sleep(1.1)
    strict = gateway.openai(default_headers={"cache-control": "max-age=1"})
    assert ask(strict, model="plain-model").headers["x-llmproxy-cache"] == "miss"
    assert len(gateway.fake.requests) == 2


def test_a_request_opts_out_of_a_cached_route(gateway: Gateway, cached_route: Any) -> None:
    ask(gateway.openai())
    for headers in ({"x-llmproxy-cache": "off"}, {"cache-control": "no-store"}):
        response = ask(gateway.openai(default_headers=headers))
        assert "x-llmproxy-cache" not in response.headers
    assert len(gateway.fake.requests) == 3


def test_no_store_stores_nothing(gateway: Gateway, cached_route: Any) -> None:
    ask(gateway.openai(default_headers={"cache-control": "no-store"}))
    assert ask(gateway.openai()).headers["x-llmproxy-cache"] == "miss"


def test_no_cache_goes_upstream_and_refreshes_the_entry(
    gateway: Gateway, cached_route: Any
) -> None:
    gateway.fake.then(reply="old answer")
    ask(gateway.openai())
    gateway.fake.then(reply="new answer")
    fresh = ask(gateway.openai(default_headers={"cache-control": "no-cache"}))
    assert fresh.headers["x-llmproxy-cache"] == "miss"
    replayed = ask(gateway.openai())
    assert replayed.headers["x-llmproxy-cache"] == "hit"
    assert replayed.parse().choices[0].message.content == "new answer"


def test_errors_are_not_cached(gateway: Gateway, cached_route: Any) -> None:
    gateway.fake.then(status=500)
    client = gateway.openai()
    try:
        ask(client)
    except openai.APIStatusError as error:
        assert error.status_code >= 500
    else:
        raise AssertionError("the upstream error did not reach the client")
    assert ask(client).headers["x-llmproxy-cache"] == "miss"
    assert ask(client).headers["x-llmproxy-cache"] == "hit"


def test_an_answer_over_the_size_limit_is_not_stored(
    gateway: Gateway, cached_route: Any, settings: Any
) -> None:
    settings.RESPONSE_CACHE_MAX_ENTRY_BYTES = 100
    ask(gateway.openai())
    assert ask(gateway.openai()).headers["x-llmproxy-cache"] == "miss"
    assert gateway.logs(2)[0].annotations["cache_store"] == "too_large"


# --- streams ------------------------------------------------------------------------


def test_a_streamed_request_replays_the_cached_stream_as_sse(
    gateway: Gateway, cached_route: Any
) -> None:
    client = gateway.openai()
    first = client.chat.completions.with_raw_response.create(
        model="cached", messages=HELLO, stream=True
    )
    original, _ = streamed_text(first.parse())
    assert first.headers["x-llmproxy-cache"] == "miss"
    with httpx.stream(
        "POST",
        gateway.v1 + "/chat/completions",
        json={"model": "cached", "messages": HELLO, "stream": True},
        headers={"authorization": f"Bearer {gateway.key}"},
    ) as response:
        assert response.headers["x-llmproxy-cache"] == "hit"
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    replayed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert replayed == original == "echo: hello cache"
    assert len(gateway.fake.requests) == 1


def test_the_usage_chunk_is_replayed_only_when_the_client_asks(
    gateway: Gateway, cached_route: Any
) -> None:
    client = gateway.openai()
    streamed_text(client.chat.completions.create(model="cached", messages=HELLO, stream=True))
    _, without = streamed_text(
        client.chat.completions.create(model="cached", messages=HELLO, stream=True)
    )
    assert all(chunk.usage is None for chunk in without)
    _, with_usage = streamed_text(
        client.chat.completions.create(
            model="cached",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert with_usage[-1].usage is not None and with_usage[-1].usage.completion_tokens == 3
    assert len(gateway.fake.requests) == 1
    hit_logs = [log for log in gateway.logs(3) if log.annotations.get("cache") == "hit"]
    assert len(hit_logs) == 2
    assert all(log.stream and log.cost_usd == 0 and log.completion_tokens == 3 for log in hit_logs)


def test_a_non_streamed_answer_replays_as_a_stream_and_back(
    gateway: Gateway, cached_route: Any
) -> None:
    client = gateway.openai()
    plain = client.chat.completions.create(model="cached", messages=HELLO)
    text, _ = streamed_text(
        client.chat.completions.create(model="cached", messages=HELLO, stream=True)
    )
    assert text == plain.choices[0].message.content
    other = [{"role": "user", "content": "stream first"}]
    streamed, _ = streamed_text(
        client.chat.completions.create(model="cached", messages=other, stream=True)
    )
    again = client.chat.completions.with_raw_response.create(model="cached", messages=other)
    assert again.headers["x-llmproxy-cache"] == "hit"
    completion = again.parse()
    assert completion.choices[0].message.content == streamed
    assert completion.object == "chat.completion"
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    assert len(gateway.fake.requests) == 2


def test_tool_calls_replay_in_a_stream(gateway: Gateway, cached_route: Any) -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    client = gateway.openai()
    plain = client.chat.completions.create(model="cached", messages=HELLO, tools=tools)
    _, chunks = streamed_text(
        client.chat.completions.create(model="cached", messages=HELLO, tools=tools, stream=True)
    )
    calls = [
        c.choices[0].delta.tool_calls[0]
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    ]
    expected = plain.choices[0].message.tool_calls[0]
    assert calls[0].id == expected.id and calls[0].function.name == "lookup"
    assert "".join(c.function.arguments or "" for c in calls) == expected.function.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert len(gateway.fake.requests) == 1


def test_a_truncated_or_malformed_stream_is_not_cached(gateway: Gateway, cached_route: Any) -> None:
    gateway.fake.then(omit_done=True)
    client = gateway.openai()
    try:
        streamed_text(client.chat.completions.create(model="cached", messages=HELLO, stream=True))
    except openai.APIError:
        pass
    gateway.fake.then(disconnect_after=2)
    try:
        streamed_text(client.chat.completions.create(model="cached", messages=HELLO, stream=True))
    except openai.APIError:
        pass
    gateway.fake.then(malformed_chunk=True)
    with httpx.stream(
        "POST",
        gateway.v1 + "/chat/completions",
        json={"model": "cached", "messages": HELLO, "stream": True},
        headers={"authorization": f"Bearer {gateway.key}"},
    ) as malformed:
        assert list(malformed.iter_lines())[-2:] == ["data: [DONE]", ""]
    response = ask(client)
    assert response.headers["x-llmproxy-cache"] == "miss"
    assert len(gateway.fake.requests) == 4


def test_embeddings_are_cached_apart_from_chat(gateway: Gateway, cached_route: Any) -> None:
    client = gateway.openai()
    first = client.embeddings.with_raw_response.create(model="cached", input="hello cache")
    second = client.embeddings.with_raw_response.create(model="cached", input="hello cache")
    assert first.headers["x-llmproxy-cache"] == "miss"
    assert second.headers["x-llmproxy-cache"] == "hit"
    assert second.parse().data[0].embedding == first.parse().data[0].embedding
    assert (
        ask(client, messages=[{"role": "user", "content": "hello cache"}]).headers[
            "x-llmproxy-cache"
        ]
        == "miss"
    )


def test_a_cache_that_is_down_never_fails_the_request(
    gateway: Gateway, cached_route: Any, monkeypatch: Any
) -> None:
    import proxy.services.response_cache as response_cache

    def broken(*args: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(response_cache, "_get", broken)
    monkeypatch.setattr(response_cache, "_set", broken)
    client = gateway.openai()
    for _ in range(2):
        response = ask(client)
        assert response.headers["x-llmproxy-cache"] == "miss"
        assert response.parse().choices[0].message.content == "echo: hello cache"
    assert len(gateway.fake.requests) == 2
    text, _ = streamed_text(
        client.chat.completions.create(model="cached", messages=HELLO, stream=True)
    )
    assert text == "echo: hello cache"
    logs = gateway.logs(3)
    assert all(log.status_code == 200 for log in logs)
    assert all(log.annotations["cache_store"] == "failed" for log in logs)


@pytest.mark.parametrize(
    "damaged", [{"raw": b"{not json", "stored_at": 0}, {"raw": "text"}, "not an entry"]
)
def test_a_damaged_entry_is_a_miss(
    gateway: Gateway, cached_route: Any, monkeypatch: Any, damaged: Any
) -> None:
    import proxy.services.response_cache as response_cache

    monkeypatch.setattr(response_cache, "_get", lambda key: damaged)
    response = ask(gateway.openai())
    assert response.headers["x-llmproxy-cache"] == "miss"
    assert response.parse().choices[0].message.content == "echo: hello cache"


def test_a_stream_over_the_size_limit_is_not_stored(
    gateway: Gateway, cached_route: Any, settings: Any
) -> None:
    settings.RESPONSE_CACHE_MAX_ENTRY_BYTES = 300
    gateway.fake.then(reply="a long answer " * 20)
    client = gateway.openai()
    text, _ = streamed_text(
        client.chat.completions.create(model="cached", messages=HELLO, stream=True)
    )
    assert text.startswith("a long answer")
    assert ask(client, stream=False).headers["x-llmproxy-cache"] == "miss"
    assert gateway.logs(2)[-1].annotations["cache_store"] == "too_large"
