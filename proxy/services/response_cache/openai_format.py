"""Cache replay for OpenAI chat completions: stored as a `chat.completion`, replayed
as JSON or as `chat.completion.chunk` events ending with `data: [DONE]`. Pure."""

from __future__ import annotations

import json
from typing import Any

from proxy.providers import Usage
from proxy.providers.openai_compat import assemble_stream
from proxy.providers.sse import event_data, event_json

DONE = b"data: [DONE]\n\n"


def usage_dict(usage: Usage) -> dict[str, Any] | None:
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None
    prompt = usage.prompt_tokens or 0
    completion = usage.completion_tokens or 0
    data: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    details = {
        name: value
        for name, value in (
            ("cached_tokens", usage.cached_tokens),
            ("cache_write_tokens", usage.cache_write_tokens),
        )
        if value is not None
    }
    if details:
        data["prompt_tokens_details"] = details
    return data


def body_from_stream(events: list[bytes], usage: Usage) -> dict[str, Any] | None:
    """The `chat.completion` a stream amounts to; None when an event was not valid JSON."""
    if any(event_json(e) is None and event_data(e) not in (b"", b"[DONE]") for e in events):
        return None
    body = assemble_stream(events)
    body.pop("text", None)
    if not body["choices"]:
        return None
    body["object"] = "chat.completion"
    for choice in body["choices"]:
        message = choice["message"]
        if message.get("tool_calls") and not message.get("content"):
            message["content"] = None
    usage_data = usage_dict(usage)
    if usage_data is not None:
        body["usage"] = usage_data
    return body


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _deltas(message: dict[str, Any]) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": message.get("role") or "assistant", "content": ""}]
    if message.get("content"):
        deltas.append({"content": message["content"]})
    if message.get("refusal"):
        deltas.append({"refusal": message["refusal"]})
    for index, tool_call in enumerate(message.get("tool_calls") or ()):
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": tool_call.get("id", ""),
                        "type": tool_call.get("type", "function"),
                        "function": tool_call.get("function") or {},
                    }
                ]
            }
        )
    return deltas


def replay_stream(body: dict[str, Any], *, include_usage: bool) -> list[bytes]:
    base = {
        "id": body.get("id", ""),
        "object": "chat.completion.chunk",
        "created": body.get("created", 0),
        "model": body.get("model", ""),
    }
    if body.get("system_fingerprint"):
        base["system_fingerprint"] = body["system_fingerprint"]
    events = []
    for choice in body.get("choices") or ():
        index = choice.get("index", 0)
        for delta in _deltas(choice.get("message") or {}):
            events.append(
                _event(
                    {**base, "choices": [{"index": index, "delta": delta, "finish_reason": None}]}
                )
            )
        finish = choice.get("finish_reason") or "stop"
        events.append(
            _event({**base, "choices": [{"index": index, "delta": {}, "finish_reason": finish}]})
        )
    if include_usage and body.get("usage"):
        events.append(_event({**base, "choices": [], "usage": body["usage"]}))
    events.append(DONE)
    return events
