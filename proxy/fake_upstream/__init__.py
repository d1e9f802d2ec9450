"""A fake LLM provider: a real HTTP server on 127.0.0.1 speaking OpenAI's and Anthropic's APIs.

Used by the tests, the benchmark and the demo; never by the proxy itself.
Replies are deterministic (an echo of the last user message, or a tool call when
tools are offered), usage is counted in words, and behaviours can be scripted
per request or per model: a delay, an error status, malformed or truncated
streams, a disconnect mid-stream, cached tokens.

- OpenAI: `POST /v1/chat/completions`, `/v1/embeddings`, `GET /v1/models`
  (a provider's base URL is `fake.base_url`, ending in /v1);
- Anthropic: `POST /v1/messages`, `/v1/messages/count_tokens`
  (a provider's base URL is `fake.anthropic_base_url`, the host root).

    python -m proxy.fake_upstream --port 9100     # standalone, for the benchmark
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import web


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0  # seconds before the response starts
    chunk_delay: float = 0.0  # seconds between stream chunks
    malformed_chunk: bool = False  # one chunk that is not JSON
    disconnect_after: int | None = None  # drop the connection after N chunks
    error_after: int | None = None  # send an in-stream error event after N chunks, then end
    omit_done: bool = False  # end the stream without [DONE] (Anthropic: without message_stop)
    retry_after: str | None = None
    error_body: Any = None
    reply: str | None = None  # the assistant's text instead of the echo
    finish_reason: str = "stop"  # OpenAI; Anthropic answers with `stop_reason`
    stop_reason: str = "end_turn"
    cached_tokens: int = 0  # cache reads, part of the prompt
    cache_write_tokens: int = 0  # cache writes, part of the prompt


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return text_of(message.get("content"))
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
    # When (time.monotonic()) a stream could not be written because the client had gone.
    streams_closed_by_client: list[float] = field(default_factory=list)

    # --- control ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Base URL for an OpenAI-compatible provider."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for an Anthropic provider (the host root, as Anthropic's SDK takes it)."""
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        self.requests.clear()
        self.queued.clear()
        self.by_model.clear()
        self.streams_closed_by_client.clear()
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
        from proxy.fake_upstream import anthropic_api, openai_api

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", partial(openai_api.chat, self))
        app.router.add_post("/v1/embeddings", partial(openai_api.embeddings, self))
        app.router.add_get("/v1/models", openai_api.models)
        app.router.add_post("/v1/messages", partial(anthropic_api.messages, self))
        app.router.add_post("/v1/messages/count_tokens", partial(anthropic_api.count_tokens, self))
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

    # --- shared by the handlers -------------------------------------------------------
    async def read(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        if self.record_requests:
            self.requests.append(
                {"path": request.path, "headers": dict(request.headers), "json": body}
            )
        return body

    async def watch_stream(self, sending: Awaitable[web.StreamResponse]) -> web.StreamResponse:
        """Send a stream, noting when the client closed the connection before its end."""
        try:
            return await sending
        except (ConnectionResetError, asyncio.CancelledError):
            self.streams_closed_by_client.append(time.monotonic())
            raise

    async def begin(self, body: dict[str, Any]) -> Behaviour:
        """The behaviour for this request, after its scripted delay."""
        behaviour = self.behaviour_for(body.get("model", ""))
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        return behaviour


def error_response(behaviour: Behaviour, default_body: Any) -> web.Response:
    headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
    body = behaviour.error_body or default_body
    return web.json_response(body, status=behaviour.status, headers=headers)


__all__ = ["Behaviour", "FakeUpstream", "count_words", "last_user_text", "text_of"]
