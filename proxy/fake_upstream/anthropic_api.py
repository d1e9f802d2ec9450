"""The fake provider's Anthropic endpoints: /v1/messages (with Anthropic's SSE sequence)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from proxy.fake_upstream import Behaviour, count_words, error_response, last_user_text

if TYPE_CHECKING:
    from proxy.fake_upstream import FakeUpstream


def error_body(behaviour: Behaviour) -> dict[str, Any]:
    kind = "invalid_request_error" if behaviour.status < 500 else "api_error"
    if behaviour.status == 429:
        kind = "rate_limit_error"
    return {
        "type": "error",
        "error": {"type": kind, "message": f"fake upstream error {behaviour.status}"},
    }


def sse(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


def reply_for(body: dict[str, Any], behaviour: Behaviour) -> tuple[str, dict[str, Any] | None]:
    """(text, tool_use block or None): the echo, or a call of the first tool offered."""
    messages = body.get("messages") or []
    text = behaviour.reply if behaviour.reply is not None else "echo: " + last_user_text(messages)
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {}
    if not tools or choice.get("type") == "none":
        return text, None
    name = choice.get("name") if choice.get("type") == "tool" else tools[0].get("name", "tool")
    return text, {
        "type": "tool_use",
        "id": "toolu_" + hashlib.sha1(text.encode()).hexdigest()[:12],
        "name": name,
        "input": {"query": last_user_text(messages)},
    }


def usage_for(body: dict[str, Any], text: str, behaviour: Behaviour) -> dict[str, Any]:
    """Anthropic's convention: input_tokens excludes cache reads and writes."""
    return {
        "input_tokens": count_words([body.get("system"), body.get("messages")]),
        "cache_creation_input_tokens": behaviour.cache_write_tokens,
        "cache_read_input_tokens": behaviour.cached_tokens,
        "output_tokens": len(text.split()),
    }


async def messages(fake: FakeUpstream, request: web.Request) -> web.StreamResponse:
    body = await fake.read(request)
    behaviour = await fake.begin(body)
    if behaviour.status >= 400:
        return error_response(behaviour, error_body(behaviour))
    text, tool_use = reply_for(body, behaviour)
    usage = usage_for(body, text, behaviour)
    stop_reason = "tool_use" if tool_use else behaviour.stop_reason
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": [tool_use] if tool_use else [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }
    if body.get("stream"):
        return await fake.watch_stream(stream(request, message, behaviour, text))
    return web.json_response(message)


def content_events(text: str, tool_use: dict[str, Any] | None) -> list[bytes]:
    if tool_use:
        arguments = json.dumps(tool_use["input"])
        half = len(arguments) // 2
        start = {**tool_use, "input": {}}
        pieces = [arguments[:half], arguments[half:]]
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
    else:
        start = {"type": "text", "text": ""}
        words = text.split(" ")
        deltas = [
            {"type": "text_delta", "text": (" " if i else "") + w} for i, w in enumerate(words)
        ]
    events = [
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": start},
        )
    ]
    events.append(sse("ping", {"type": "ping"}))
    events += [
        sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d})
        for d in deltas
    ]
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    return events


async def stream(
    request: web.Request, message: dict[str, Any], behaviour: Behaviour, text: str
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    await response.write(sse("message_start", {"type": "message_start", "message": start}))
    tool_use = message["content"][0] if message["content"][0]["type"] == "tool_use" else None
    for sent, event in enumerate(content_events(text, tool_use)):
        if behaviour.disconnect_after is not None and sent >= behaviour.disconnect_after:
            request.transport.close()  # type: ignore[union-attr]
            return response
        if behaviour.error_after is not None and sent >= behaviour.error_after:
            error = {"type": "overloaded_error", "message": "fake overloaded"}
            await response.write(sse("error", {"type": "error", "error": error}))
            await response.write_eof()
            return response
        if behaviour.malformed_chunk and sent == 1:
            await response.write(b"event: content_block_delta\ndata: {not json\n\n")
        await response.write(event)
        if behaviour.chunk_delay:
            await asyncio.sleep(behaviour.chunk_delay)
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    await response.write(sse("message_delta", delta))
    if not behaviour.omit_done:
        await response.write(sse("message_stop", {"type": "message_stop"}))
    await response.write_eof()
    return response


async def count_tokens(fake: FakeUpstream, request: web.Request) -> web.Response:
    body = await fake.read(request)
    behaviour = await fake.begin(body)
    if behaviour.status >= 400:
        return error_response(behaviour, error_body(behaviour))
    return web.json_response(
        {"input_tokens": count_words([body.get("system"), body.get("messages")])}
    )
