"""OpenAI-compatible providers: OpenAI, OpenRouter, vLLM, Ollama, LM Studio.

Pure translation, no I/O. The chat body is the client's own, passed through
untouched except for the model name and, on streams, `stream_options`.
"""

from __future__ import annotations

from typing import Any

from proxy.providers import ResponseSummary, UpstreamRequest, Usage
from proxy.providers.sse import event_json

API_FORMAT = "openai"
ENDPOINT_PATHS = {"chat": "/chat/completions", "embeddings": "/embeddings"}
# Client headers passed on unchanged to this kind of upstream.
FORWARDED_HEADERS: tuple[str, ...] = ()


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
    upstream_body = dict(body)
    upstream_body["model"] = model
    if want_usage and upstream_body.get("stream"):
        options = upstream_body.get("stream_options")
        options = dict(options) if isinstance(options, dict) else {}
        options["include_usage"] = True
        upstream_body["stream_options"] = options
    headers = {"content-type": "application/json", "accept": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    headers.update(extra_headers)
    return UpstreamRequest(
        url=base_url + ENDPOINT_PATHS[endpoint], headers=headers, body=upstream_body
    )


def usage_from(data: Any) -> Usage:
    if not isinstance(data, dict):
        return Usage()
    details = data.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=data.get("prompt_tokens"),
        completion_tokens=data.get("completion_tokens"),
        cached_tokens=details.get("cached_tokens") if isinstance(details, dict) else None,
        cache_write_tokens=(
            details.get("cache_write_tokens") if isinstance(details, dict) else None
        ),
    )


def summarize_response(body: Any) -> ResponseSummary:
    if not isinstance(body, dict):
        return ResponseSummary()
    choices = body.get("choices") or []
    finish = ""
    if choices and isinstance(choices[0], dict):
        finish = choices[0].get("finish_reason") or ""
    return ResponseSummary(usage=usage_from(body.get("usage")), finish_reason=finish)


class StreamScanner:
    """Reads usage and finish reason from an OpenAI chat stream, one event at a time.

    Only events that mention usage or a finish reason are parsed. When the
    client did not ask for usage, the extra usage-only chunk is dropped.
    """

    def __init__(self, *, drop_usage_chunk: bool) -> None:
        self.drop_usage_chunk = drop_usage_chunk
        self.summary = ResponseSummary()
        self.saw_done = False
        self.error: dict[str, Any] | None = None  # an error object the upstream streamed

    def feed(self, event: bytes) -> bool:
        """Returns whether the event goes on to the client."""
        if b"[DONE]" in event:
            self.saw_done = True
            return True
        if event.startswith(b'data: {"error"'):
            payload = event_json(event)
            error = payload.get("error") if isinstance(payload, dict) else None
            self.error = error if isinstance(error, dict) else {"message": "unreadable"}
            return True
        has_usage = b'"usage":{' in event or b'"usage": {' in event
        has_finish = b'"finish_reason":"' in event or b'"finish_reason": "' in event
        if not (has_usage or has_finish):
            return True
        payload = event_json(event)
        if not isinstance(payload, dict):
            return True
        if has_finish:
            for choice in payload.get("choices") or ():
                if isinstance(choice, dict) and choice.get("finish_reason"):
                    self.summary.finish_reason = choice["finish_reason"]
        if has_usage:
            self.summary.usage = usage_from(payload.get("usage"))
            if self.drop_usage_chunk and not payload.get("choices"):
                return False
        return True


def assemble_stream(events: list[bytes]) -> dict[str, Any]:
    """Rebuild a chat.completion from its chunks (for the log; off the request path)."""
    result: dict[str, Any] = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict[str, Any]] = {}
    for event in events:
        payload = event_json(event)
        if not isinstance(payload, dict):
            continue
        for key in ("id", "model", "created", "system_fingerprint"):
            if key in payload and key not in result:
                result[key] = payload[key]
        if payload.get("usage"):
            result["usage"] = payload["usage"]
        for chunk in payload.get("choices") or ():
            index = chunk.get("index", 0)
            choice = choices.setdefault(
                index,
                {
                    "index": index,
                    "message": {"role": "assistant", "content": ""},
                    "finish_reason": None,
                },
            )
            delta = chunk.get("delta") or {}
            if delta.get("content"):
                choice["message"]["content"] += delta["content"]
            for call in delta.get("tool_calls") or ():
                calls = choice["message"].setdefault("tool_calls", [])
                position = call.get("index", 0)
                while len(calls) <= position:
                    calls.append(
                        {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                target = calls[position]
                if call.get("id"):
                    target["id"] = call["id"]
                function = call.get("function") or {}
                target["function"]["name"] += function.get("name") or ""
                target["function"]["arguments"] += function.get("arguments") or ""
            if chunk.get("finish_reason"):
                choice["finish_reason"] = chunk["finish_reason"]
    result["choices"] = [choices[i] for i in sorted(choices)]
    first = result["choices"][0]["message"] if result["choices"] else {}
    result["text"] = first.get("content") or ""
    return result


def models_list(names: list[str], owned_by: str = "llmproxy") -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": owned_by} for n in names],
    }
