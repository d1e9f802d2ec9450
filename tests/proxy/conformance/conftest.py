"""The conformance matrix: each client SDK x each upstream kind, through the proxy.

`client` drives the proxy with one official SDK and reads its answer into one
`Answer` shape, in the caller's own vocabulary; `upstream` points the gateway's
default provider at the fake upstream in one API format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from proxy.fake_upstream import FakeUpstream, count_words
from tests.conftest import Gateway

TOOL = {
    "name": "lookup",
    "description": "Look something up.",
    "parameters": {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
}


@dataclass
class Answer:
    """What a client got, in its own API's vocabulary."""

    text: str
    stop: str
    tool_calls: list[tuple[str, str, dict[str, Any]]]  # (id, name, arguments)
    prompt_tokens: int  # every input token, cached ones included
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    events: list[str] = field(default_factory=list)  # stream event types, in order


class OpenAIClient:
    name = "openai"
    stop_words = {"stop": "stop", "tool": "tool_calls"}

    def __init__(self, gateway: Gateway) -> None:
        self.sdk = gateway.openai()

    def ask(self, text: str, *, stream: bool, tools: bool, system: str = "Be brief.") -> Answer:
        kwargs: dict[str, Any] = {
            "model": "m",
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": text},
            ],
        }
        if tools:
            kwargs["tools"] = [{"type": "function", "function": TOOL}]
        if not stream:
            return self._answer(self.sdk.chat.completions.create(**kwargs))
        chunks = list(
            self.sdk.chat.completions.create(
                stream=True, stream_options={"include_usage": True}, **kwargs
            )
        )
        return self._from_chunks(chunks)

    def _answer(self, completion: Any) -> Answer:
        choice = completion.choices[0]
        calls = [
            (c.id, c.function.name, json.loads(c.function.arguments))
            for c in choice.message.tool_calls or ()
        ]
        return self._with_usage(
            Answer(choice.message.content or "", choice.finish_reason, calls, 0, 0, 0, 0),
            completion.usage.model_dump(),
        )

    def _from_chunks(self, chunks: list[Any]) -> Answer:
        text, stop, usage = "", "", {}
        calls: dict[int, list[str]] = {}
        for chunk in chunks:
            if chunk.usage:
                usage = chunk.usage.model_dump()
            for choice in chunk.choices:
                text += choice.delta.content or ""
                stop = choice.finish_reason or stop
                for call in choice.delta.tool_calls or ():
                    entry = calls.setdefault(call.index, ["", "", ""])
                    entry[0] += call.id or ""
                    entry[1] += (call.function and call.function.name) or ""
                    entry[2] += (call.function and call.function.arguments) or ""
        tool_calls = [(i, n, json.loads(a)) for i, n, a in calls.values()]
        answer = Answer(text, stop, tool_calls, 0, 0, 0, 0, events=["chunk"] * len(chunks))
        return self._with_usage(answer, usage)

    @staticmethod
    def _with_usage(answer: Answer, usage: dict[str, Any]) -> Answer:
        details = usage.get("prompt_tokens_details") or {}
        answer.prompt_tokens = usage["prompt_tokens"]
        answer.completion_tokens = usage["completion_tokens"]
        answer.cached_tokens = details.get("cached_tokens") or 0
        answer.cache_write_tokens = details.get("cache_write_tokens") or 0
        return answer

    def expected_error_type(self, status: int) -> str:
        return "invalid_request_error" if status < 500 else "upstream_error"

    def ask_expecting_error(self, *, stream: bool) -> tuple[int, dict[str, Any]]:
        import openai

        with pytest.raises(openai.APIStatusError) as caught:
            self.ask("fail", stream=stream, tools=False)
        body = caught.value.body
        assert isinstance(body, dict) and "message" in body, body
        return caught.value.status_code, body


class AnthropicClient:
    name = "anthropic"
    stop_words = {"stop": "end_turn", "tool": "tool_use"}

    def __init__(self, gateway: Gateway) -> None:
        import anthropic

        self.sdk = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)

    def ask(self, text: str, *, stream: bool, tools: bool, system: str = "Be brief.") -> Answer:
        kwargs: dict[str, Any] = {
            "model": "m",
            "max_tokens": 256,
            "system": system,
            "messages": [{"role": "user", "content": text}],
        }
        if tools:
            kwargs["tools"] = [
                {
                    "name": TOOL["name"],
                    "description": TOOL["description"],
                    "input_schema": TOOL["parameters"],
                }
            ]
        if not stream:
            return self._answer(self.sdk.messages.create(**kwargs), [])
        events = []
        with self.sdk.messages.stream(**kwargs) as live:
            for event in live:
                if event.type in (
                    "message_start",
                    "content_block_start",
                    "content_block_delta",
                    "content_block_stop",
                    "message_delta",
                    "message_stop",
                    "ping",
                ):
                    events.append(event.type)
            message = live.get_final_message()
        return self._answer(message, events)

    def _answer(self, message: Any, events: list[str]) -> Answer:
        text = "".join(b.text for b in message.content if b.type == "text")
        calls = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
        usage = message.usage
        read = usage.cache_read_input_tokens or 0
        written = usage.cache_creation_input_tokens or 0
        return Answer(
            text,
            message.stop_reason,
            calls,
            usage.input_tokens + read + written,
            usage.output_tokens,
            read,
            written,
            events=events,
        )

    def expected_error_type(self, status: int) -> str:
        return "invalid_request_error" if status < 500 else "api_error"

    def ask_expecting_error(self, *, stream: bool) -> tuple[int, dict[str, Any]]:
        import anthropic

        with pytest.raises(anthropic.APIStatusError) as caught:
            self.ask("fail", stream=stream, tools=False)
        body = caught.value.body
        assert isinstance(body, dict) and body.get("type") == "error", body
        return caught.value.status_code, body["error"]


@pytest.fixture(params=["openai", "anthropic"], ids=["openai-sdk", "anthropic-sdk"])
def client(request: pytest.FixtureRequest, gateway: Gateway) -> OpenAIClient | AnthropicClient:
    return OpenAIClient(gateway) if request.param == "openai" else AnthropicClient(gateway)


@pytest.fixture(params=["openai", "anthropic"], ids=["openai-upstream", "anthropic-upstream"])
def upstream(request: pytest.FixtureRequest, gateway: Gateway) -> Iterator[str]:
    """The kind of the gateway's default provider; the fake speaks both."""
    from proxy.runtime import get_runtime

    kind = request.param
    if kind == "anthropic":
        gateway.provider.kind = "anthropic"
        gateway.provider.base_url = gateway.fake.anthropic_base_url
        gateway.provider.save()
        get_runtime().invalidate_config()
    yield kind


def upstream_prompt_tokens(fake: FakeUpstream, kind: str) -> int:
    """The fresh (uncached) input tokens the fake counted for the last request."""
    body = fake.requests[-1]["json"]
    if kind == "anthropic":
        return count_words([body.get("system"), body.get("messages")])
    return count_words(body["messages"])
