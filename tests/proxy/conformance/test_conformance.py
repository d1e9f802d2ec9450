"""Every client SDK reaches every upstream kind, streamed or not, with tools, and errors.

The matrix: {openai, anthropic} SDK x {OpenAI-compatible, Anthropic} upstream x
{streaming, not} x {tools, no tools}, and upstream 4xx/5xx errors. Answers are
checked in the caller's own vocabulary; usage includes cache reads and writes;
the log record says who served, the tokens and the finish reason.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Gateway
from tests.proxy.conformance.conftest import (
    AnthropicClient,
    OpenAIClient,
    upstream_prompt_tokens,
)

Client = OpenAIClient | AnthropicClient
STREAMING = pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])


@STREAMING
def test_a_question_gets_the_echo_with_usage_and_cache_tokens(
    gateway: Gateway, client: Client, upstream: str, stream: bool
) -> None:
    gateway.fake.then(cached_tokens=5, cache_write_tokens=2)
    answer = client.ask("conform to me", stream=stream, tools=False)

    assert answer.text == "echo: conform to me"
    assert answer.stop == client.stop_words["stop"]
    assert answer.tool_calls == []
    fresh = upstream_prompt_tokens(gateway.fake, upstream)
    assert answer.prompt_tokens == fresh + 5 + 2
    assert answer.completion_tokens == 4
    assert answer.cached_tokens == 5
    assert answer.cache_write_tokens == 2
    [log] = gateway.logs(1)
    assert log.status_code == 200 and log.stream is stream
    assert log.api_format == client.name and log.provider == "fake"
    assert (log.prompt_tokens, log.completion_tokens) == (fresh + 7, 4)
    assert (log.cached_tokens, log.cache_write_tokens) == (5, 2)
    assert log.finish_reason == client.stop_words["stop"]
    if stream:
        assert log.body.response_text == "echo: conform to me"


@STREAMING
def test_a_tool_offer_gets_a_tool_call_with_its_arguments(
    gateway: Gateway, client: Client, upstream: str, stream: bool
) -> None:
    answer = client.ask("weather in Paris", stream=stream, tools=True)

    assert len(answer.tool_calls) == 1
    call_id, name, arguments = answer.tool_calls[0]
    assert call_id and name == "lookup"
    assert arguments == {"query": "weather in Paris"}
    assert answer.stop == client.stop_words["tool"]
    assert answer.completion_tokens == 4
    [log] = gateway.logs(1)
    assert log.finish_reason == client.stop_words["tool"]
    assert log.provider == "fake" and log.completion_tokens == 4
    sent_tools = gateway.fake.requests[-1]["json"]["tools"]
    if upstream == "anthropic":
        assert sent_tools[0]["name"] == "lookup" and sent_tools[0]["input_schema"]["required"]
    else:
        assert sent_tools[0]["function"]["name"] == "lookup"


@STREAMING
@pytest.mark.parametrize("status", [400, 500])
def test_an_upstream_error_comes_back_in_the_callers_format(
    gateway: Gateway, client: Client, upstream: str, stream: bool, status: int
) -> None:
    gateway.fake.then(status=status)
    got_status, error = client.ask_expecting_error(stream=stream)

    assert got_status == (status if status < 500 else 502)
    assert error["type"] == client.expected_error_type(status)
    assert f"fake upstream error {status}" in error["message"]
    [log] = gateway.logs(1)
    assert log.status_code == got_status and log.provider == "fake"
    assert log.annotations["upstream_error"]["upstream_status"] == status


def anthropic_event_names(gateway: Gateway, **body: Any) -> list[str]:
    """The `event:` names of a raw /v1/messages stream (the SDK hides pings)."""
    payload = {"model": "m", "max_tokens": 64, "stream": True, **body}
    with httpx.stream(
        "POST", gateway.url + "/v1/messages", json=payload, headers={"x-api-key": gateway.key}
    ) as response:
        assert response.status_code == 200
        return [line[7:] for line in response.iter_lines() if line.startswith("event: ")]


def test_the_anthropic_stream_follows_anthropics_event_sequence(
    gateway: Gateway, upstream: str
) -> None:
    gateway.fake.then(reply="two words")
    names = anthropic_event_names(gateway, messages=[{"role": "user", "content": "x"}])

    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_the_anthropic_tool_stream_sends_input_json_deltas(gateway: Gateway, upstream: str) -> None:
    answer = AnthropicClient(gateway).ask("find it", stream=True, tools=True)
    names = anthropic_event_names(
        gateway,
        messages=[{"role": "user", "content": "find it"}],
        tools=[{"name": "lookup", "input_schema": {"type": "object"}}],
    )

    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") == 2
    assert answer.tool_calls[0][1:] == ("lookup", {"query": "find it"})
