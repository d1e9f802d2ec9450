"""Anthropic's Messages API (api.anthropic.com, or any server that speaks it).

Pure translation, no I/O. The messages body is the client's own, passed through
untouched except for the model name. The base URL is the host root, as the
`anthropic` SDK takes it (`https://api.anthropic.com`); `/v1/messages` is appended.

Usage is normalised to the gateway's convention (the OpenAI one): `prompt_tokens`
counts every input token, cached ones included. Anthropic's `input_tokens`
excludes cache reads and writes, so prompt_tokens = input_tokens +
cache_read_input_tokens + cache_creation_input_tokens.
"""

from __future__ import annotations

import json
from typing import Any

from proxy.providers import ResponseSummary, UpstreamRequest, Usage
from proxy.providers.sse import event_json, event_name

API_FORMAT = "anthropic"
ENDPOINT_PATHS = {"messages": "/messages", "count_tokens": "/messages/count_tokens"}
DEFAULT_VERSION = "2023-06-01"
# Client headers passed on unchanged to this kind of upstream.
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


def endpoint_url(base_url: str, endpoint: str) -> str:
    root = base_url.rstrip("/")
    if not root.endswith("/v1"):
        root += "/v1"
    return root + ENDPOINT_PATHS[endpoint]


def build_request(
    endpoint: str,
    body: dict[str, Any],
    *,
    model: str,
    api_key: str,
    base_url: str,
    extra_headers: dict[str, str],
    want_usage: bool,
) -> UpstreamRequest:
    """`want_usage` needs nothing here: Anthropic streams always carry usage."""
    upstream_body = dict(body)
    upstream_body["model"] = model
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "anthropic-version": DEFAULT_VERSION,
    }
    if api_key:
        headers["x-api-key"] = api_key
    headers.update(extra_headers)
    return UpstreamRequest(
        url=endpoint_url(base_url, endpoint), headers=headers, body=upstream_body
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def usage_from(data: Any) -> Usage:
    """Anthropic usage (`input_tokens`, `output_tokens`, cache reads and writes) normalised."""
    if not isinstance(data, dict):
        return Usage()
    fresh = _int(data.get("input_tokens"))
    read = _int(data.get("cache_read_input_tokens"))
    written = _int(data.get("cache_creation_input_tokens"))
    prompt = None if fresh is None else fresh + (read or 0) + (written or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=_int(data.get("output_tokens")),
        cached_tokens=read,
        cache_write_tokens=written,
    )


def summarize_response(body: Any) -> ResponseSummary:
    if not isinstance(body, dict):
        return ResponseSummary()
    return ResponseSummary(
        usage=usage_from(body.get("usage")), finish_reason=body.get("stop_reason") or ""
    )


class StreamScanner:
    """Reads usage and stop reason from an Anthropic stream, one event at a time.

    Usage arrives in two parts: input and cache tokens in `message_start`, the
    running output count (and, on some servers, input counts) in `message_delta`.
    Only those two event types are parsed; every event goes on to the client.
    """

    def __init__(self, *, drop_usage_chunk: bool = False) -> None:
        self.summary = ResponseSummary()
        self.saw_done = False
        self.error: dict[str, Any] | None = None  # an `event: error` the upstream sent
        self._usage: dict[str, Any] = {}

    def feed(self, event: bytes) -> bool:
        if b"message_" not in event:
            if event.startswith(b"event: error"):
                payload = event_json(event)
                error = payload.get("error") if isinstance(payload, dict) else None
                self.error = error if isinstance(error, dict) else {"message": "unreadable"}
            return True
        name = event_name(event)
        if name == "message_stop":
            self.saw_done = True
        elif name in ("message_start", "message_delta"):
            payload = event_json(event)
            if isinstance(payload, dict):
                if name == "message_start":
                    usage = (payload.get("message") or {}).get("usage")
                else:
                    usage = payload.get("usage")
                    stop = (payload.get("delta") or {}).get("stop_reason")
                    if stop:
                        self.summary.finish_reason = stop
                if isinstance(usage, dict):
                    self._usage.update({k: v for k, v in usage.items() if v is not None})
                    self.summary.usage = usage_from(self._usage)
        return True


def assemble_stream(events: list[bytes]) -> dict[str, Any]:
    """Rebuild a Message from its events (for the log; off the request path)."""
    result: dict[str, Any] = {"type": "message", "role": "assistant", "content": []}
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, str] = {}
    usage: dict[str, Any] = {}
    for event in events:
        payload = event_json(event)
        if not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        if kind == "message_start":
            message = payload.get("message") or {}
            for key in ("id", "model", "role"):
                if key in message:
                    result[key] = message[key]
            usage.update(message.get("usage") or {})
        elif kind == "content_block_start":
            blocks[payload.get("index", 0)] = dict(payload.get("content_block") or {})
        elif kind == "content_block_delta":
            index = payload.get("index", 0)
            block = blocks.setdefault(index, {"type": "text", "text": ""})
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif delta.get("type") == "input_json_delta":
                partial_json[index] = partial_json.get(index, "") + delta.get("partial_json", "")
            elif delta.get("type") == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif kind == "message_delta":
            delta = payload.get("delta") or {}
            result["stop_reason"] = delta.get("stop_reason")
            result["stop_sequence"] = delta.get("stop_sequence")
            usage.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
    for index, raw in partial_json.items():
        try:
            blocks[index]["input"] = json.loads(raw) if raw else {}
        except ValueError:
            blocks[index]["input"] = {"_unparsed": raw}
    result["content"] = [blocks[i] for i in sorted(blocks)]
    if usage:
        result["usage"] = usage
    result["text"] = "".join(
        block.get("text", "") for block in result["content"] if block.get("type") == "text"
    )
    return result
