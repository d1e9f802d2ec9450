"""A stream that breaks upstream ends with an error event in the caller's format."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway

REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": (
        "/v1/chat/completions",
        {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c"}]},
    ),
    "anthropic": (
        "/v1/messages",
        {
            "model": "m",
            "max_tokens": 9,
            "stream": True,
            "messages": [{"role": "user", "content": "a b c"}],
        },
    ),
}


def stream_lines(gateway: Gateway, caller: str) -> list[str]:
    path, body = REQUESTS[caller]
    headers = {"authorization": f"Bearer {gateway.key}"}
    with httpx.stream("POST", gateway.url + path, json=body, headers=headers) as response:
        assert response.status_code == 200
        return [line for line in response.iter_lines() if line]


def last_error(caller: str, lines: list[str]) -> dict[str, Any]:
    if caller == "anthropic":
        assert lines[-2] == "event: error"
        payload = json.loads(lines[-1][6:])
        assert payload["type"] == "error"
        return dict(payload["error"])
    payload = json.loads(lines[-1][6:])
    assert "[DONE]" not in lines[-1]
    return dict(payload["error"])


@pytest.mark.parametrize("caller", ["openai", "anthropic"])
@pytest.mark.parametrize(
    "behaviour",
    [{"omit_done": True}, {"disconnect_after": 2}],
    ids=["no-end-marker", "disconnect"],
)
def test_a_broken_upstream_stream_ends_with_an_error_event_in_the_callers_format(
    gateway: Gateway, upstream: str, caller: str, behaviour: dict[str, Any]
) -> None:
    gateway.fake.then(**behaviour)
    error = last_error(caller, stream_lines(gateway, caller))

    assert error["type"] == {"openai": "upstream_error", "anthropic": "api_error"}[caller]
    assert "fake" in error["message"] or "before it was complete" in error["message"]
    [log] = gateway.logs(1)
    assert log.status_code == 502 and log.error_type == "upstream"


@pytest.mark.parametrize("caller", ["openai", "anthropic"])
def test_an_error_the_upstream_streams_reaches_the_caller_once_in_its_format(
    gateway: Gateway, upstream: str, caller: str
) -> None:
    gateway.fake.then(error_after=2)
    lines = stream_lines(gateway, caller)
    error = last_error(caller, lines)

    assert error["message"] == "fake overloaded"
    assert sum("fake overloaded" in line for line in lines) == 1
    [log] = gateway.logs(1)
    assert log.status_code == 502 and log.error_type == "upstream"
    assert log.error_message == "Upstream fake failed mid-stream: fake overloaded"


@pytest.mark.parametrize("caller", ["openai", "anthropic"])
def test_a_malformed_upstream_event_does_not_end_the_stream(
    gateway: Gateway, upstream: str, caller: str
) -> None:
    gateway.fake.then(malformed_chunk=True)
    lines = stream_lines(gateway, caller)
    assert lines[-1] in (
        "data: [DONE]",
        'data: {"type":"message_stop"}',
        'data: {"type": "message_stop"}',
    )
    assert not any("error" in line for line in lines)
    [log] = gateway.logs(1)
    assert log.status_code == 200 and log.completion_tokens == 4


def test_an_openai_caller_who_did_not_ask_for_usage_gets_none_but_it_is_logged(
    gateway: Gateway, upstream: str
) -> None:
    chunks = list(
        gateway.openai().chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "count me"}]
        )
    )
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "echo: count me"
    )
    [log] = gateway.logs(1)
    assert log.completion_tokens == 3 and log.prompt_tokens
    assert log.finish_reason == "stop"
