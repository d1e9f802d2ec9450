"""OpenAI chat → Anthropic messages: requests, responses and streams.

`request` turns a chat completion request into a messages request (for an
OpenAI caller on an Anthropic upstream); `response` and `StreamTranslator`
turn a chat.completion and its chunks into a Message and its events (for an
Anthropic caller on an OpenAI-compatible upstream).
"""

from __future__ import annotations

import json
from typing import Any

from proxy.providers.sse import encode_event, event_json
from proxy.translation import (
    DEFAULT_MAX_TOKENS,
    FINISH_TO_STOP,
    TranslationError,
    json_object,
)

ENDPOINTS = {"chat": "messages"}

# The request fields `request` translates; any other is dropped (see docs/anthropic.md).
TRANSLATED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",  # usage is always in an Anthropic stream
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "n",
        "response_format",
    }
)


def dropped(body: dict[str, Any]) -> list[str]:
    """The request's fields with no Anthropic equivalent, which `request` leaves out."""
    return sorted(key for key in body if key not in TRANSLATED)


# --- requests ------------------------------------------------------------------


def image_block(part: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI `image_url` part as an Anthropic image block (data URL → base64 source)."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise TranslationError("An image_url part has no URL.")
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        media_type = head[5:].split(";")[0]
        if ";base64" not in head or not media_type:
            raise TranslationError("Only base64 data URLs can be sent as Anthropic images.")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (a string or parts) as Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise TranslationError("Message content must be a string or an array of parts.")
    blocks = []
    for part in content:
        part = json_object(part)
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            blocks.append(image_block(part))
        elif kind == "refusal":
            blocks.append({"type": "text", "text": part.get("refusal", "")})
        else:
            raise TranslationError(f"Content parts of type {kind!r} are not translated.")
    return blocks


def tool_use_block(call: dict[str, Any], *, lenient: bool = False) -> dict[str, Any]:
    """A tool call as a tool_use block. Invalid JSON arguments are refused in a request;
    in an answer (`lenient`) they are kept as `{"_unparsed_arguments": text}`."""
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    try:
        tool_input = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError as exc:
        if not lenient:
            raise TranslationError(
                f"The arguments of tool call {call.get('id')!r} are not valid JSON."
            ) from exc
        tool_input = {"_unparsed_arguments": arguments}
    return {
        "type": "tool_use",
        "id": call.get("id", ""),
        "name": function.get("name", ""),
        "input": tool_input if isinstance(tool_input, dict) else {"value": tool_input},
    }


def tool_result_block(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    result: Any = content if isinstance(content, str) else content_blocks(content)
    return {
        "type": "tool_result",
        "tool_use_id": message.get("tool_call_id", ""),
        "content": result,
    }


def split_system(messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system text blocks, the other messages); system and developer roles go to `system`."""
    system: list[dict[str, Any]] = []
    rest = []
    for message in messages:
        message = json_object(message)
        if message.get("role") in ("system", "developer"):
            system.extend(b for b in content_blocks(message.get("content")) if b["type"] == "text")
        else:
            rest.append(message)
    return system, rest


def messages_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as Anthropic turns; consecutive turns of one role are merged."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "user":
            turn_role, blocks = "user", content_blocks(message.get("content"))
        elif role == "assistant":
            turn_role = "assistant"
            blocks = content_blocks(message.get("content"))
            blocks += [tool_use_block(json_object(c)) for c in message.get("tool_calls") or ()]
        elif role == "tool":
            turn_role, blocks = "user", [tool_result_block(message)]
        else:
            raise TranslationError(f"Messages with the role {role!r} are not translated.")
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    for turn in turns:  # a lone text block reads best as a plain string
        content = turn["content"]
        if len(content) == 1 and content[0]["type"] == "text":
            turn["content"] = content[0]["text"]
    return turns


def tool_of(tool: Any) -> dict[str, Any]:
    tool = json_object(tool)
    if tool.get("type", "function") != "function":
        raise TranslationError(f"Tools of type {tool.get('type')!r} are not translated.")
    function = json_object(tool.get("function"))
    out: dict[str, Any] = {
        "name": function.get("name", ""),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def tool_choice_of(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None:
        translated: dict[str, Any] | None = None
    elif choice == "auto":
        translated = {"type": "auto"}
    elif choice == "none":
        translated = {"type": "none"}
    elif choice == "required":
        translated = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        translated = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    else:
        raise TranslationError(f"tool_choice {choice!r} is not translated.")
    if parallel is False:
        translated = dict(translated or {"type": "auto"})
        if translated["type"] != "none":
            translated["disable_parallel_tool_use"] = True
    return translated


def request(
    body: dict[str, Any], *, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """A chat completion request as an Anthropic messages request."""
    if (body.get("n") or 1) != 1:
        raise TranslationError("`n` > 1 is not available on Anthropic models.")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise TranslationError("`response_format` is not translated to Anthropic models.")
    system, messages = split_system(list(body.get("messages") or ()))
    out: dict[str, Any] = {"model": body.get("model", "")}
    if system:
        only_text = len(system) == 1
        out["system"] = system[0]["text"] if only_text else system
    out["messages"] = messages_of(messages)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = max_tokens if isinstance(max_tokens, int) else default_max_tokens
    if isinstance(body.get("temperature"), int | float):
        out["temperature"] = min(float(body["temperature"]), 1.0)  # Anthropic's range is 0..1
    if isinstance(body.get("top_p"), int | float):
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("stream"):
        out["stream"] = True
    tools = body.get("tools")
    if tools:
        out["tools"] = [tool_of(t) for t in tools]
    choice = tool_choice_of(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None and tools:
        out["tool_choice"] = choice
    if isinstance(body.get("user"), str) and body["user"]:
        out["metadata"] = {"user_id": body["user"]}
    return out


# --- responses -----------------------------------------------------------------


def usage_of(usage: Any) -> dict[str, int]:
    """OpenAI usage (prompt includes cached) as Anthropic usage (input excludes cache)."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    read = details.get("cached_tokens") or 0
    written = details.get("cache_write_tokens") or 0
    return {
        "input_tokens": max(0, (usage.get("prompt_tokens") or 0) - read - written),
        "output_tokens": usage.get("completion_tokens") or 0,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
    }


def response(body: dict[str, Any], *, created: int = 0) -> dict[str, Any]:
    """A chat.completion as an Anthropic Message (first choice only; `created` has no field)."""
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content = [b for b in content_blocks(message.get("content")) if b["type"] == "text"]
    if message.get("refusal"):
        content.append({"type": "text", "text": message["refusal"]})
    content += [tool_use_block(call, lenient=True) for call in message.get("tool_calls") or ()]
    finish = choice.get("finish_reason") or "stop"
    return {
        "id": body.get("id", ""),
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": FINISH_TO_STOP.get(finish, "end_turn"),
        "stop_sequence": None,
        "usage": usage_of(body.get("usage")),
    }


# --- streams -------------------------------------------------------------------


class StreamTranslator:
    """OpenAI chat chunks in, Anthropic message events out; one per stream.

    message_start comes with the first chunk, then each text run or tool call
    becomes a content block (ping after the first block opens, as Anthropic
    does). OpenAI reports usage at the end, so message_start carries zero input
    tokens and the closing message_delta carries the full usage.
    """

    def __init__(self, *, client_wants_usage: bool = True, created: int = 0) -> None:
        """Anthropic streams always carry usage; `created` has no Anthropic field."""
        self.started = False
        self.pinged = False
        self.block: int = -1  # index of the open block, -1 when none is open
        self.block_type = ""
        self.next_block = 0
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool-call index -> block index
        self.upstream_finish = ""  # OpenAI's finish_reason
        self.usage: dict[str, Any] = {}
        self.ended = False

    @property
    def finish_reason(self) -> str:
        """The stop reason in the caller's (Anthropic) vocabulary, once known."""
        if not self.upstream_finish:
            return ""
        return FINISH_TO_STOP.get(self.upstream_finish, "end_turn")

    def feed(self, event: bytes) -> list[bytes]:
        if b"[DONE]" in event:
            return self._end()
        payload = event_json(event)
        if not isinstance(payload, dict):
            return []
        if "error" in payload and "choices" not in payload:
            return [self._error(payload["error"])]
        out = self._start(payload)
        if payload.get("usage"):
            self.usage = payload["usage"]
        for choice in payload.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                if self.block_type != "text":
                    out += self._open({"type": "text", "text": ""}, "text")
                out.append(self._text_delta(text))
            for call in delta.get("tool_calls") or ():
                out += self._tool_delta(call)
            if choice.get("finish_reason"):
                self.upstream_finish = choice["finish_reason"]
        return out

    def _start(self, payload: dict[str, Any]) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        message = {
            "id": payload.get("id", ""),
            "type": "message",
            "role": "assistant",
            "model": payload.get("model", ""),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [encode_event({"type": "message_start", "message": message}, "message_start")]

    def _open(self, content_block: dict[str, Any], block_type: str) -> list[bytes]:
        out = self._close()
        self.block, self.block_type = self.next_block, block_type
        self.next_block += 1
        start = {"type": "content_block_start", "index": self.block, "content_block": content_block}
        out.append(encode_event(start, "content_block_start"))
        if not self.pinged:
            self.pinged = True
            out.append(encode_event({"type": "ping"}, "ping"))
        return out

    def _close(self) -> list[bytes]:
        if self.block < 0:
            return []
        stop = encode_event(
            {"type": "content_block_stop", "index": self.block}, "content_block_stop"
        )
        self.block, self.block_type = -1, ""
        return [stop]

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return encode_event(
            {"type": "content_block_delta", "index": self.block, "delta": delta},
            "content_block_delta",
        )

    def _text_delta(self, text: str) -> bytes:
        """The hot path: a text delta written without building and encoding a dict."""
        head = (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
            b'"delta":{"type":"text_delta","text":' % self.block
        )
        return head + json.dumps(text).encode() + b"}}\n\n"

    def _tool_delta(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        position = call.get("index", 0)
        function = call.get("function") or {}
        if position not in self.tool_blocks:
            block = {"type": "tool_use", "id": call.get("id", ""), "name": function.get("name", "")}
            out += self._open({**block, "input": {}}, "tool_use")
            self.tool_blocks[position] = self.block
        elif self.tool_blocks[position] != self.block:
            return []  # a late fragment of an already-closed call cannot be reopened
        if function.get("arguments"):
            out.append(
                self._delta({"type": "input_json_delta", "partial_json": function["arguments"]})
            )
        return out

    def _end(self) -> list[bytes]:
        if self.ended:
            return []
        self.ended = True
        out = self._start({}) + self._close()
        delta = {
            "type": "message_delta",
            "delta": {
                "stop_reason": self.finish_reason or "end_turn",
                "stop_sequence": None,
            },
            "usage": usage_of(self.usage),
        }
        out.append(encode_event(delta, "message_delta"))
        out.append(encode_event({"type": "message_stop"}, "message_stop"))
        return out

    def _error(self, error: Any) -> bytes:
        message = error.get("message") if isinstance(error, dict) else str(error)
        payload = {"type": "error", "error": {"type": "api_error", "message": message or ""}}
        return encode_event(payload, "error")
