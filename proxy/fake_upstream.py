"""A fake LLM provider: a real HTTP server on 127.0.0.1 speaking OpenAI's API.

Used by the tests, the benchmark and the demo; never by the proxy itself.
Replies are deterministic (an echo of the last user message), usage is counted
in words, and behaviours can be scripted per request or per model: a delay, an
error status, malformed or truncated streams, a disconnect mid-stream.

    python -m proxy.fake_upstream --port 9100     # standalone, for the benchmark
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0  # seconds before the response starts
    chunk_delay: float = 0.0  # seconds between stream chunks
    malformed_chunk: bool = False  # one chunk that is not JSON
    disconnect_after: int | None = None  # drop the connection after N chunks
    omit_done: bool = False  # end the stream without [DONE]
    retry_after: str | None = None
    error_body: Any = None
    reply: str | None = None  # the assistant's text instead of the echo
    finish_reason: str = "stop"
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # reported as prompt_tokens_details.cache_write_tokens


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def count_words(value: Any) -> int:
    return max(1, len(json.dumps(value).split()))


@dataclass
class FakeUpstream:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    queued: deque[Behaviour] = field(default_factory=deque)
    by_model: dict[str, Behaviour] = field(default_factory=dict)
    default: Behaviour = field(default_factory=Behaviour)
    record_requests: bool = True

    # --- control ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def reset(self) -> None:
        self.requests.clear()
        self.queued.clear()
        self.by_model.clear()
        self.default = Behaviour()

    def then(self, **kwargs: Any) -> FakeUpstream:
        """Script the behaviour of the next request (queued, one per call)."""
        self.queued.append(Behaviour(**kwargs))
        return self

    def behaviour_for(self, model: str) -> Behaviour:
        if self.queued:
            return self.queued.popleft()
        return self.by_model.get(model, self.default)

    # --- server -------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_get("/v1/models", self.models)
        return app

    def start_in_thread(self) -> FakeUpstream:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            runner = web.AppRunner(self.app(), access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.SockSite(runner, sock)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="fake-upstream", daemon=True).start()
        ready.wait(10)
        return self

    # --- handlers -------------------------------------------------------------------
    async def _read(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        if self.record_requests:
            self.requests.append(
                {"path": request.path, "headers": dict(request.headers), "json": body}
            )
        return body

    async def _error(self, behaviour: Behaviour) -> web.Response:
        headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
        body = behaviour.error_body or {
            "error": {
                "message": f"fake upstream error {behaviour.status}",
                "type": "invalid_request_error" if behaviour.status < 500 else "server_error",
                "param": None,
                "code": None,
            }
        }
        return web.json_response(body, status=behaviour.status, headers=headers)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request)
        behaviour = self.behaviour_for(body.get("model", ""))
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.status >= 400:
            return await self._error(behaviour)
        messages = body.get("messages") or []
        text = (
            behaviour.reply if behaviour.reply is not None else "echo: " + last_user_text(messages)
        )
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
        prompt_tokens = count_words(messages)
        completion_tokens = len(text.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {
                "cached_tokens": behaviour.cached_tokens,
                **(
                    {"cache_write_tokens": behaviour.cache_write_tokens}
                    if behaviour.cache_write_tokens
                    else {}
                ),
            },
        }
        finish = "tool_calls" if tool_call else behaviour.finish_reason
        created = int(time.time())
        if body.get("stream"):
            return await self._stream(
                request, body, behaviour, text, tool_call, usage, finish, created
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

    async def _stream(
        self,
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
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if tool_call:
            arguments = tool_call["function"]["arguments"]
            half = len(arguments) // 2
            deltas.append(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": tool_call["id"],
                            "type": "function",
                            "function": {
                                "name": tool_call["function"]["name"],
                                "arguments": arguments[:half],
                            },
                        }
                    ]
                }
            )
            deltas.append(
                {"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]}
            )
        else:
            words = text.split(" ")
            deltas.extend({"content": (" " if i else "") + w} for i, w in enumerate(words))
        for sent, delta in enumerate(deltas):
            if behaviour.disconnect_after is not None and sent >= behaviour.disconnect_after:
                request.transport.close()  # type: ignore[union-attr]
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

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        behaviour = self.behaviour_for(body.get("model", ""))
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.status >= 400:
            return await self._error(behaviour)
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        dims = int(body.get("dimensions") or 8)
        data = []
        for index, item in enumerate(items):
            digest = hashlib.sha256(json.dumps(item).encode()).digest()
            data.append(
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": [b / 255 for b in digest[:dims]],
                }
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

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}],
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    fake = FakeUpstream(host=args.host, port=args.port, record_requests=False)
    web.run_app(fake.app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
