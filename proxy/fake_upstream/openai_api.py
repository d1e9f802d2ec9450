"""The fake provider's OpenAI-compatible endpoints."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from proxy.fake_upstream import Behaviour, count_words, error_response, last_user_text

if TYPE_CHECKING:
    from proxy.fake_upstream import FakeUpstream


def error_body(behaviour: Behaviour) -> dict[str, Any]:
    return {
        "error": {
            "message": f"fake upstream error {behaviour.status}",
            "type": "invalid_request_error" if behaviour.status < 500 else "server_error",
            "param": None,
            "code": None,
        }
    }


def usage_for(messages: Any, text: str, behaviour: Behaviour) -> dict[str, Any]:
    prompt_tokens = count_words(messages) + behaviour.cached_tokens + behaviour.cache_write_tokens
    completion_tokens = len(text.split())
    details = {"cached_tokens": behaviour.cached_tokens}
    if behaviour.cache_write_tokens:
        details["cache_write_tokens"] = behaviour.cache_write_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": details,
    }


async def chat(fake: FakeUpstream, request: web.Request) -> web.StreamResponse:
    body = await fake.read(request)
    behaviour = await fake.begin(body)
    if behaviour.status >= 400:
        return error_response(behaviour, error_body(behaviour))
    messages = body.get("messages") or []
    text = behaviour.reply if behaviour.reply is not None else "echo: " + last_user_text(messages)
    tools = body.get("tools") or []
    tool_call = None
    if tools and body.get("tool_choice") != "none":
        name = (tools[0].get("function") or {}).get("name", "tool")
        tool_call = {
            "id": "call_" + hashlib.sha1(text.encode()).hexdigest()[:12],
            "type": "function",
            "function": {
                "name": name,
                "arguments": json.dumps({"query": last_user_text(messages)}),
            },
        }
    usage = usage_for(messages, text, behaviour)
    finish = "tool_calls" if tool_call else behaviour.finish_reason
    created = int(time.time())
    if body.get("stream"):
        return await fake.watch_stream(
            stream(request, body, behaviour, text, tool_call, usage, finish, created)
        )
    message: dict[str, Any] = {"role": "assistant", "content": None if tool_call else text}
    if tool_call:
        message["tool_calls"] = [tool_call]
    choices = [
        {"index": i, "message": message, "finish_reason": finish, "logprobs": None}
        for i in range(int(body.get("n") or 1))
    ]
    return web.json_response(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": created,
            "model": body.get("model"),
            "choices": choices,
            "usage": usage,
        }
    )


def deltas_for(text: str, tool_call: dict[str, Any] | None) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if tool_call:
        arguments = tool_call["function"]["arguments"]
        half = len(arguments) // 2
        first = {
            "index": 0,
            "id": tool_call["id"],
            "type": "function",
            "function": {"name": tool_call["function"]["name"], "arguments": arguments[:half]},
        }
        deltas.append({"tool_calls": [first]})
        deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]})
    else:
        words = text.split(" ")
        deltas.extend({"content": (" " if i else "") + w} for i, w in enumerate(words))
    return deltas


async def stream(
    request: web.Request,
    body: dict[str, Any],
    behaviour: Behaviour,
    text: str,
    tool_call: dict[str, Any] | None,
    usage: dict[str, Any],
    finish: str,
    created: int,
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": created,
        "model": body.get("model"),
    }
    for sent, delta in enumerate(deltas_for(text, tool_call)):
        if behaviour.disconnect_after is not None and sent >= behaviour.disconnect_after:
            request.transport.close()  # type: ignore[union-attr]
            return response
        if behaviour.error_after is not None and sent >= behaviour.error_after:
            error = {"error": {"message": "fake overloaded", "type": "server_error"}}
            await response.write(b"data: " + json.dumps(error).encode() + b"\n\n")
            await response.write_eof()
            return response
        if behaviour.malformed_chunk and sent == 1:
            await response.write(b"data: {not json\n\n")
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if behaviour.chunk_delay:
            await asyncio.sleep(behaviour.chunk_delay)
    final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    await response.write(b"data: " + json.dumps(final).encode() + b"\n\n")
    options = body.get("stream_options") or {}
    if options.get("include_usage"):
        await response.write(
            b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n"
        )
    if not behaviour.omit_done:
        await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def embeddings(fake: FakeUpstream, request: web.Request) -> web.Response:
    body = await fake.read(request)
    behaviour = await fake.begin(body)
    if behaviour.status >= 400:
        return error_response(behaviour, error_body(behaviour))
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    dims = int(body.get("dimensions") or 8)
    data = []
    for index, item in enumerate(items):
        digest = hashlib.sha256(json.dumps(item).encode()).digest()
        data.append(
            {"object": "embedding", "index": index, "embedding": [b / 255 for b in digest[:dims]]}
        )
    tokens = sum(count_words(i) for i in items)
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def models(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "object": "list",
            "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}],
        }
    )
