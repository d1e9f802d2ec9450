"""Fixtures for the fault tests: each fault is tried from both client APIs.

`caller` drives the proxy through the official SDK of one API (OpenAI's
`/v1/chat/completions` or Anthropic's `/v1/messages`), with the default
provider speaking the same API, so that what the client sees is the proxy's
own handling of the fault, not a translation.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import Gateway


@dataclass
class Caller:
    api: str  # "openai" or "anthropic"
    gateway: Gateway

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self.api == "openai" else "/v1/messages"

    @property
    def url(self) -> str:
        return self.gateway.url + self.path

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.gateway.key}", "content-type": "application/json"}

    def body(self, text: str = "hello there", **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": text}]}
        if self.api == "anthropic":
            body["max_tokens"] = 64
        return {**body, **extra}

    def client(self, **kwargs: Any) -> Any:
        if self.api == "openai":
            return self.gateway.openai(**kwargs)
        return anthropic.Anthropic(
            base_url=self.gateway.url, api_key=self.gateway.key, max_retries=0, **kwargs
        )

    def create(self, **kwargs: Any) -> Any:
        body = self.body(**kwargs)
        client = self.client()
        if self.api == "openai":
            return client.chat.completions.create(**body)
        return client.messages.create(**body)

    def stream_text(self, text: str = "hello there") -> str:
        """The streamed answer as the SDK assembles it (raises what the SDK raises)."""
        body = self.body(text)
        client = self.client()
        if self.api == "openai":
            chunks = client.chat.completions.create(stream=True, **body)
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        with client.messages.stream(**body) as stream:
            return "".join(stream.text_stream)

    @property
    def status_error(self) -> type[Exception]:
        return openai.APIStatusError if self.api == "openai" else anthropic.APIStatusError

    @property
    def stream_error(self) -> type[Exception]:
        return openai.APIError if self.api == "openai" else anthropic.APIError

    def error_type(self, body: Any) -> str:
        """The error type out of an SDK exception body, in either API's shape."""
        if self.api == "anthropic":
            assert body["type"] == "error"
            return str(body["error"]["type"])
        return str(body["type"])


@pytest.fixture(params=["openai", "anthropic"])
def caller(request: pytest.FixtureRequest, gateway: Gateway) -> Iterator[Caller]:
    from proxy.runtime import get_runtime

    if request.param == "anthropic":
        gateway.provider.kind = "anthropic"
        gateway.provider.base_url = gateway.fake.anthropic_base_url
        gateway.provider.save()
        get_runtime().invalidate_config()
    yield Caller(request.param, gateway)


@pytest.fixture
def resetting_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers every connection with a reset (RST)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            try:
                conn.recv(65536)  # let the request arrive, then reset
            except OSError:
                pass
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    server.close()
