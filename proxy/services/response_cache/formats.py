"""Cache replay per API format: a registry of dotted paths, one module per caller format.

A format module provides, for a response in its own API format:
- `body_from_stream(events, usage) -> dict | None`: the whole response rebuilt from
  the client-bound SSE events of a stream up to its terminal event (None: do not store);
- `replay_stream(body, *, include_usage) -> list[bytes]`: the SSE events that
  stream the stored body again, ending as that format's streams end.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from types import ModuleType

REPLAYERS: dict[str, str] = {
    "openai": "proxy.services.response_cache.openai_format",
}


@cache
def replayer_for(api_format: str) -> ModuleType | None:
    dotted = REPLAYERS.get(api_format)
    return import_module(dotted) if dotted else None
