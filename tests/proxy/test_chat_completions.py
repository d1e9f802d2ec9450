"""The OpenAI-compatible chat endpoint, driven by the official `openai` SDK."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import Gateway


def test_it_answers_a_chat_completion_like_the_upstream(gateway: Gateway) -> None:
    client = gateway.openai()
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
    )
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    sent = gateway.fake.requests[-1]
    assert sent["json"]["model"] == "gpt-4o-mini"
    assert sent["headers"]["Authorization"] == "Bearer sk-fake-upstream-secret-0000"


def test_it_sets_request_id_and_overhead_headers(gateway: Gateway) -> None:
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert len(raw.headers["x-llmproxy-request-id"]) == 32
    assert float(raw.headers["x-llmproxy-overhead-ms"]) >= 0


def test_it_passes_unknown_fields_through_untouched(gateway: Gateway) -> None:
    gateway.openai().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        seed=7,
        logprobs=True,
        n=2,
        response_format={"type": "json_object"},
        extra_body={"vendor_knob": {"depth": 3}},
    )
    sent = gateway.fake.requests[-1]["json"]
    assert sent["seed"] == 7 and sent["logprobs"] is True and sent["n"] == 2
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["vendor_knob"] == {"depth": 3}


def test_it_returns_tool_calls(gateway: Gateway) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    completion = gateway.openai().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "find x"}],
        tools=tools,
        tool_choice="auto",
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": "find x"}
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_the_async_client_works_too(gateway: Gateway) -> None:
    client = gateway.async_openai()
    completion = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "async hello"}]
    )
    assert completion.choices[0].message.content == "echo: async hello"


def test_it_records_the_request_with_timings_and_tokens(gateway: Gateway) -> None:
    gateway.openai().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "log me"}],
        extra_headers={"x-session-id": "sess-1"},
    )
    [log] = gateway.logs(1)
    assert log.status_code == 200
    assert log.namespace_id == gateway.namespace.id and log.api_key_id == gateway.api_key.id
    assert log.requested_model == log.resolved_model == "gpt-4o-mini"
    assert log.provider == "fake"
    assert log.session_id == "sess-1"
    assert log.prompt_tokens and log.completion_tokens == 3
    assert log.latency_ms >= log.upstream_ms > 0
    assert log.overhead_ms is not None
    assert log.body.request["messages"][0]["content"] == "log me"
    assert log.body.response["choices"][0]["message"]["content"] == "echo: log me"
    assert log.cost_usd is not None and log.cost_usd > 0  # priced: see tests/proxy/test_costs.py


def test_embeddings_are_forwarded_and_logged(gateway: Gateway) -> None:
    result = gateway.openai().embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8
    [log] = gateway.logs(1)
    assert log.endpoint == "embeddings" and log.prompt_tokens == result.usage.prompt_tokens


def test_the_session_comes_from_metadata_or_user(gateway: Gateway) -> None:
    client = gateway.openai()
    client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], metadata={"session_id": "meta-s"}
    )
    client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], user="u-9"
    )
    logs = gateway.logs(2)
    assert {log.session_id for log in logs} == {"meta-s", "u-9"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "`model` is required"),
        (b'{"model": "m", "messages": []}', "`messages` is required"),
        (b'{"model": "m", "messages": [{"role": "user"}], "stream": "yes"}', "`stream`"),
        (b'{"model": "m", "messages": "\xff\xfe"}', "UTF-8"),
    ],
)
def test_it_rejects_bad_bodies_in_openai_error_format(
    gateway: Gateway, body: bytes, message: str
) -> None:
    response = httpx.post(
        gateway.v1 + "/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {gateway.key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}
    assert response.headers["x-llmproxy-request-id"]


def test_the_sdk_sees_a_bad_request_error(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError):
        gateway.openai().chat.completions.create(model="m", messages=[])
