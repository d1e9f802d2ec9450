"""Stream text filters: other apps rewrite the text of a response as it flows.

A filter sees the assistant's text in order, chunk by chunk, and returns what
may go to the client now (`feed`); it may hold some back (a window to catch a
value split across chunks) and gives the rest at the end of the text (`flush`).
It may raise `ProxyError` to stop the response. `call.output_filters` holds
factories; each text (each choice or content block) gets its own chain.

The wire format is read and rewritten by a small per-format adapter: only the
events that carry text are parsed; every other event passes through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from proxy.providers.sse import encode_event, event_json, event_name


class TextFilter(Protocol):
    def feed(self, text: str) -> str: ...

    def flush(self) -> str: ...


FilterFactory = Callable[[], TextFilter]


class Chain:
    def __init__(self, factories: list[FilterFactory]) -> None:
        self.filters = [make() for make in factories]

    def feed(self, text: str) -> str:
        for f in self.filters:
            text = f.feed(text)
        return text

    def flush(self) -> str:
        text = ""
        for f in self.filters:
            text = f.feed(text) + f.flush() if text else f.flush()
        return text


class OpenAIText:
    """OpenAI chat streams: text is `choices[i].delta.content`; a choice ends with `finish_reason`."""

    def __init__(self, factories: list[FilterFactory]) -> None:
        self.factories = factories
        self.chains: dict[int, Chain] = {}
        self.template: dict[str, Any] = {}

    def _chain(self, index: int) -> Chain:
        if index not in self.chains:
            self.chains[index] = Chain(self.factories)
        return self.chains[index]

    def _text_chunk(self, index: int, text: str) -> bytes:
        chunk = {
            k: v for k, v in self.template.items() if k in ("id", "object", "created", "model")
        }
        chunk["choices"] = [{"index": index, "delta": {"content": text}, "finish_reason": None}]
        return encode_event(chunk)

    def _flush_all(self) -> list[bytes]:
        out = []
        for index, chain in sorted(self.chains.items()):
            rest = chain.flush()
            if rest:
                out.append(self._text_chunk(index, rest))
        self.chains.clear()
        return out

    def rewrite(self, event: bytes) -> list[bytes]:
        if b"[DONE]" in event:
            return [*self._flush_all(), event]
        if b'"content"' not in event and b'"finish_reason"' not in event:
            return [event]
        payload = event_json(event)
        if not isinstance(payload, dict) or not payload.get("choices"):
            return [event]
        self.template = payload
        before: list[bytes] = []
        for choice in payload["choices"]:
            index = choice.get("index", 0)
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                delta["content"] = self._chain(index).feed(delta["content"])
            if choice.get("finish_reason") and index in self.chains:
                rest = self.chains.pop(index).flush()
                if rest:
                    before.append(self._text_chunk(index, rest))
        return [*before, encode_event(payload)]

    def finish(self) -> list[bytes]:
        return self._flush_all()

    @staticmethod
    def texts_of(body: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        messages = [c.get("message") or {} for c in body.get("choices") or ()]
        return [(m, "content") for m in messages if isinstance(m.get("content"), str)]


class AnthropicText:
    """Anthropic message streams: text is `delta.text` of `content_block_delta` (`text_delta`);
    a block ends with `content_block_stop`."""

    def __init__(self, factories: list[FilterFactory]) -> None:
        self.factories = factories
        self.chains: dict[int, Chain] = {}

    def rewrite(self, event: bytes) -> list[bytes]:
        name = event_name(event)
        if name not in ("content_block_delta", "content_block_stop"):
            return [event]
        payload = event_json(event)
        if not isinstance(payload, dict):
            return [event]
        index = payload.get("index", 0)
        if name == "content_block_stop":
            chain = self.chains.pop(index, None)
            rest = chain.flush() if chain else ""
            if not rest:
                return [event]
            delta = {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": rest},
            }
            return [encode_event(delta, "content_block_delta"), event]
        delta = payload.get("delta") or {}
        if delta.get("type") != "text_delta":
            return [event]
        if index not in self.chains:
            self.chains[index] = Chain(self.factories)
        delta["text"] = self.chains[index].feed(delta.get("text", ""))
        return [encode_event(payload, "content_block_delta")]

    def finish(self) -> list[bytes]:
        out = []
        for index, chain in sorted(self.chains.items()):
            rest = chain.flush()
            if rest:
                delta = {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": rest},
                }
                out.append(encode_event(delta, "content_block_delta"))
        self.chains.clear()
        return out

    @staticmethod
    def texts_of(body: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        blocks = [b for b in body.get("content") or () if isinstance(b, dict)]
        return [(b, "text") for b in blocks if isinstance(b.get("text"), str)]


STREAM_TEXT_ADAPTERS: dict[str, type[OpenAIText] | type[AnthropicText]] = {
    "openai": OpenAIText,
    "anthropic": AnthropicText,
}


def stream_text_filter(
    api_format: str, factories: list[FilterFactory]
) -> OpenAIText | AnthropicText:
    return STREAM_TEXT_ADAPTERS[api_format](factories)


def filter_body(api_format: str, body: Any, factories: list[FilterFactory]) -> bytes:
    """A whole (non-streamed) response: every text goes through its own chain."""
    if isinstance(body, dict):
        for holder, key in STREAM_TEXT_ADAPTERS[api_format].texts_of(body):
            chain = Chain(factories)
            holder[key] = chain.feed(holder[key]) + chain.flush()
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
