"""Anthropic messages → OpenAI chat: requests, responses and streams.

`request` turns a messages request into a chat completion request (for an
Anthropic caller on an OpenAI-compatible upstream); `response` and
`StreamTranslator` turn a Message and its events into a chat.completion and
its chunks (for an OpenAI caller on an Anthropic upstream).
"""

from __future__ import annotations

import json
from typing import Any

from proxy.providers.sse import encode_event, event_json, event_name
from proxy.translation import STOP_TO_FINISH, TranslationError, json_object

ENDPOINTS = {"messages": "chat"}

# The request fields `request` translates; any other is dropped (see docs/anthropic.md).
TRANSLATED = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "metadata",
    }
)


def dropped(body: dict[str, Any]) -> list[str]:
    """The request's fields with no OpenAI chat equivalent, which `request` leaves out."""
    return sorted(key for key in body if key not in TRANSLATED)


# --- requests ------------------------------------------------------------------


def image_part(block: dict[str, Any]) -> dict[str, Any]:
    source = json_object(block.get("source"))
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = source.get("url", "")
    else:
        raise TranslationError(f"Image sources of type {source.get('type')!r} are not translated.")
    return {"type": "image_url", "image_url": {"url": url}}


def parts_of(content: Any) -> list[dict[str, Any]]:
    """Anthropic text and image blocks as OpenAI content parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts = []
    for block in content or ():
        block = json_object(block)
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append(image_part(block))
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the other model cannot continue Claude's reasoning
        else:
            raise TranslationError(f"Content blocks of type {kind!r} are not translated.")
    return parts


def plain_or_parts(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A string when every part is text, else the parts."""
    if all(part["type"] == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def tool_message(block: dict[str, Any]) -> dict[str, Any]:
    content = block.get("content")
    parts = parts_of(content) if content is not None else []
    if any(part["type"] != "text" for part in parts):
        raise TranslationError("Images inside tool results are not translated.")
    return {
        "role": "tool",
        "tool_call_id": block.get("tool_use_id", ""),
        "content": "".join(part["text"] for part in parts),
    }


def tool_call_of(block: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": block.get("id", ""),
        "type": "function",
        "function": {
            "name": block.get("name", ""),
            "arguments": json.dumps(block.get("input") or {}, separators=(",", ":")),
        },
    }


def user_messages(content: Any) -> list[dict[str, Any]]:
    """One user turn: its tool results become `tool` messages, first; the rest one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out = []
    rest = []
    for block in content or ():
        block = json_object(block)
        if block.get("type") == "tool_result":
            out.append(tool_message(block))
        else:
            rest.append(block)
    parts = parts_of(rest)
    if parts:
        out.append({"role": "user", "content": plain_or_parts(parts)})
    return out


def assistant_message(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts = []
    calls = []
    for block in content or ():
        block = json_object(block)
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            calls.append(tool_call_of(block))
        elif kind not in ("thinking", "redacted_thinking"):
            raise TranslationError(f"Assistant blocks of type {kind!r} are not translated.")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    blocks = [json_object(block) for block in system or ()]
    return "\n\n".join(block.get("text", "") for block in blocks if block.get("type") == "text")


def tool_of(tool: Any) -> dict[str, Any]:
    tool = json_object(tool)
    if tool.get("type") not in (None, "custom"):
        raise TranslationError(f"Server tools ({tool.get('type')!r}) are not translated.")
    function: dict[str, Any] = {
        "name": tool.get("name", ""),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def tool_choice_of(choice: dict[str, Any]) -> Any:
    kind = choice.get("type")
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    raise TranslationError(f"tool_choice of type {kind!r} is not translated.")


def request(body: dict[str, Any], *, default_max_tokens: int = 0) -> dict[str, Any]:
    """An Anthropic messages request as a chat completion request.

    `default_max_tokens` is unused: Anthropic callers always give max_tokens.
    """
    messages: list[dict[str, Any]] = []
    system = system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in body.get("messages") or ():
        message = json_object(message)
        if message.get("role") == "assistant":
            messages.append(assistant_message(message.get("content")))
        else:
            messages.extend(user_messages(message.get("content")))
    out: dict[str, Any] = {"model": body.get("model", ""), "messages": messages}
    if isinstance(body.get("max_tokens"), int):
        out["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if isinstance(body.get(name), int | float):
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    if body.get("stream"):
        out["stream"] = True
    if body.get("tools"):
        out["tools"] = [tool_of(t) for t in body["tools"]]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        if body.get("tools") or choice.get("type") == "none":
            out["tool_choice"] = tool_choice_of(choice)
        if choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    user_id = (body.get("metadata") or {}).get("user_id")
    if isinstance(user_id, str) and user_id:
        out["user"] = user_id
    return out


# --- responses -----------------------------------------------------------------


def usage_of(usage: Any) -> dict[str, Any]:
    """Anthropic usage (input excludes cache) as OpenAI usage (prompt includes cache)."""
    usage = usage if isinstance(usage, dict) else {}
    read = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + read + written
    completion = usage.get("output_tokens") or 0
    details: dict[str, int] = {"cached_tokens": read}
    if written:
        details["cache_write_tokens"] = written
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": details,
    }


def finish_of(stop_reason: Any) -> str:
    return STOP_TO_FINISH.get(stop_reason or "end_turn", "stop")


def response(body: dict[str, Any], *, created: int = 0) -> dict[str, Any]:
    """An Anthropic Message as a chat.completion; blocks chat cannot show are left out."""
    shown = [
        block
        for block in body.get("content") or ()
        if isinstance(block, dict) and block.get("type") in ("text", "tool_use")
    ]
    message = assistant_message(shown)
    return {
        "id": body.get("id", ""),
        "object": "chat.completion",
        "created": created,
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_of(body.get("stop_reason")),
                "logprobs": None,
            }
        ],
        "usage": usage_of(body.get("usage")),
    }


# --- streams -------------------------------------------------------------------


class StreamTranslator:
    """Anthropic message events in, OpenAI chat chunks out; one per stream.

    Text deltas become content chunks; a tool_use block becomes a tool call
    (id and name first, then its input_json_delta fragments as argument
    deltas); message_delta gives the finish reason; message_stop ends with the
    usage chunk (when the caller asked for it) and `data: [DONE]`.
    """

    def __init__(self, *, client_wants_usage: bool = False, created: int = 0) -> None:
        self.client_wants_usage = client_wants_usage
        self.created = created
        self.id = ""
        self.model = ""
        self.usage: dict[str, Any] = {}
        self.tool_calls: dict[int, int] = {}  # block index -> OpenAI tool-call index
        self.finish_reason = ""
        self.ended = False
        self._prefix: bytes | None = None  # the chunk's JSON up to its delta

    def feed(self, event: bytes) -> list[bytes]:
        if self.ended or event.startswith(b"event: ping"):
            return []
        payload = event_json(event)
        if not isinstance(payload, dict):
            return []
        kind = payload.get("type") or event_name(event)
        if kind == "message_start":
            message = payload.get("message") or {}
            self.id, self.model = message.get("id", ""), message.get("model", "")
            self._prefix = None
            self.usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(payload)
        if kind == "content_block_delta":
            return self._block_delta(payload)
        if kind == "message_delta":
            usage = payload.get("usage") or {}
            self.usage.update({k: v for k, v in usage.items() if v is not None})
            self.finish_reason = finish_of((payload.get("delta") or {}).get("stop_reason"))
            return [self._chunk({}, self.finish_reason)]
        if kind == "message_stop":
            self.ended = True
            out = []
            if self.client_wants_usage:
                out.append(
                    self._data({**self._base(), "choices": [], "usage": usage_of(self.usage)})
                )
            return [*out, b"data: [DONE]\n\n"]
        if kind == "error":
            error = payload.get("error") or {}
            return [
                self._data(
                    {
                        "error": {
                            "message": error.get("message", ""),
                            "type": "upstream_error",
                            "param": None,
                            "code": error.get("type"),
                        }
                    }
                )
            ]
        return []

    def _block_start(self, payload: dict[str, Any]) -> list[bytes]:
        block = payload.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []
        position = len(self.tool_calls)
        self.tool_calls[payload.get("index", 0)] = position
        call = {
            "index": position,
            "id": block.get("id", ""),
            "type": "function",
            "function": {"name": block.get("name", ""), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, payload: dict[str, Any]) -> list[bytes]:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            position = self.tool_calls.get(payload.get("index", 0))
            if position is None:
                return []
            call = {"index": position, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _base(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        if finish_reason is None:  # the hot path: one prefix per stream, only the delta encoded
            if self._prefix is None:
                head = json.dumps(self._base(), separators=(",", ":"))[:-1]
                self._prefix = f'data: {head},"choices":[{{"index":0,"delta":'.encode()
            delta_json = json.dumps(delta, separators=(",", ":")).encode()
            return self._prefix + delta_json + b',"finish_reason":null}]}\n\n'
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return self._data({**self._base(), "choices": [choice]})

    @staticmethod
    def _data(payload: dict[str, Any]) -> bytes:
        return encode_event(payload)
