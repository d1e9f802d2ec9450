"""Provider adapters: one module per API format, pure translation, no I/O.

An adapter module provides:
- `API_FORMAT`: the wire format it speaks ("openai" or "anthropic");
- `build_request(endpoint, body, *, model, api_key, base_url, extra_headers, want_usage)`
  -> `UpstreamRequest` (URL, headers, JSON body), for a body in its own format;
- `summarize_response(body) -> ResponseSummary` (usage, finish reason);
- `StreamScanner`: per-stream state fed one SSE event at a time (`summary`,
  `saw_done`, and `error`: an error object the upstream sent inside its stream);
- `assemble_stream(events) -> dict`: the whole response rebuilt from a stream,
  used off the request path for logging;
- `ENDPOINT_PATHS`; `FORWARDED_HEADERS`: client headers passed on unchanged.

`Usage` follows one convention for every adapter: `prompt_tokens` counts every
input token, cache reads (`cached_tokens`) and writes (`cache_write_tokens`) included.

Registered by dotted path; the pipeline never branches on a provider's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any

ADAPTERS: dict[str, str] = {
    "openai": "proxy.providers.openai_compat",
    "anthropic": "proxy.providers.anthropic",
}


@dataclass(slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


@dataclass(slots=True)
class ResponseSummary:
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""


@cache
def get_adapter(kind: str) -> ModuleType:
    try:
        dotted = ADAPTERS[kind]
    except KeyError as exc:
        raise LookupError(f"No provider adapter for kind {kind!r}.") from exc
    return import_module(dotted)
