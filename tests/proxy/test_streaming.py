"""Streaming chat completions: relayed as they arrive, usage captured, disconnects recorded."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.conftest import Gateway


def test_it_relays_chunks_and_ends_with_done(gateway: Gateway) -> None:
    with httpx.stream(
        "POST",
        gateway.v1 + "/chat/completions",
        json={
            "model": "m",
            "stream": True,
            "messages": [{"role": "user", "content": "one two three"}],
        },
        headers={"authorization": f"Bearer {gateway.key}"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-llmproxy-request-id"]
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    text = "".join(
        (json.loads(line[6:])["choices"][0]["delta"].get("content") or "")
        for line in lines[:-1]
        if json.loads(line[6:])["choices"]
    )
    assert text == "echo: one two three"


def test_it_relays_chunks_as_they_arrive(gateway: Gateway) -> None:
    gateway.fake.then(chunk_delay=0.3, reply="slow stream of words")
    started = time.monotonic()
    stream = gateway.openai().chat.completions.create(
        model="m", stream=True, messages=[{"role": "user", "content": "x"}]
    )
    first = next(iter(stream))
    assert time.monotonic() - started < 0.6, "the first chunk waited for the whole stream"
    assert first.choices[0].delta.role == "assistant"
    rest = list(stream)
    assert (
        "".join(c.choices[0].delta.content or "" for c in rest if c.choices)
        == "slow stream of words"
    )


def test_usage_is_captured_but_not_shown_when_the_client_did_not_ask(gateway: Gateway) -> None:
    chunks = list(
        gateway.openai().chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "count me"}]
        )
    )
    assert all(chunk.usage is None for chunk in chunks)
    assert gateway.fake.requests[-1]["json"]["stream_options"] == {"include_usage": True}
    [log] = gateway.logs(1)
    assert log.stream and log.status_code == 200
    assert log.prompt_tokens and log.completion_tokens == 3
    assert log.finish_reason == "stop"
    assert log.ttft_ms is not None and log.ttft_ms <= log.latency_ms
    assert log.body.response_text == "echo: count me"


def test_usage_reaches_the_client_when_it_asked(gateway: Gateway) -> None:
    chunks = list(
        gateway.openai().chat.completions.create(
            model="m",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "count me"}],
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_tool_call_arguments_stream_through(gateway: Gateway) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    chunks = list(
        gateway.openai().chat.completions.create(
            model="m", stream=True, tools=tools, messages=[{"role": "user", "content": "q"}]
        )
    )
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(arguments) == {"query": "q"}
    [log] = gateway.logs(1)
    assert log.finish_reason == "tool_calls"
    assert (
        log.body.response["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup"
    )


async def test_async_streaming_works(gateway: Gateway) -> None:
    stream = await gateway.async_openai().chat.completions.create(
        model="m", stream=True, messages=[{"role": "user", "content": "async stream"}]
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "echo: async stream"


def test_a_client_that_disconnects_cancels_the_upstream_and_is_recorded(gateway: Gateway) -> None:
    gateway.fake.then(chunk_delay=0.2, reply=" ".join(["word"] * 50))
    with httpx.stream(
        "POST",
        gateway.v1 + "/chat/completions",
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        headers={"authorization": f"Bearer {gateway.key}"},
    ) as response:
        iterator = response.iter_lines()
        for _ in range(3):
            next(iterator)
    [log] = gateway.logs(1)
    deadline = time.monotonic() + 5
    while not log.client_disconnected and time.monotonic() < deadline:
        time.sleep(0.1)
        [log] = gateway.logs(1)
    assert log.client_disconnected
    assert log.status_code == 499
    assert log.latency_ms < 5000, "the proxy kept reading the upstream after the client left"
    assert log.body.response_text.startswith("word")


def test_an_upstream_that_drops_mid_stream_gives_the_client_an_error(gateway: Gateway) -> None:
    gateway.fake.then(disconnect_after=2, reply="a b c d e f")
    stream = gateway.openai().chat.completions.create(
        model="m", stream=True, messages=[{"role": "user", "content": "x"}]
    )
    with pytest.raises(openai.APIError):
        list(stream)
    [log] = gateway.logs(1)
    assert log.status_code == 502 and log.error_type == "upstream"


def test_a_stream_without_done_is_recorded_as_incomplete(gateway: Gateway) -> None:
    gateway.fake.then(omit_done=True)
    with pytest.raises(openai.APIError):
        list(
            gateway.openai().chat.completions.create(
                model="m", stream=True, messages=[{"role": "user", "content": "x"}]
            )
        )
    [log] = gateway.logs(1)
    assert "ended before it was complete" in log.error_message
