"""How request and response bodies are stored, as `LOG_BODIES` says.

Runs on the log writer thread, never on the request path.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from proxy.providers import get_adapter


def body_shape(body: Any) -> Any:
    """The body without its text: parameters, message roles and sizes, tool names."""
    if not isinstance(body, dict):
        return None
    shape: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("messages", "input", "system", "prompt"):
            shape[key] = _describe(value)
        elif key == "tools" and isinstance(value, list):
            shape[key] = [
                (t.get("function") or {}).get("name") or t.get("name")
                for t in value
                if isinstance(t, dict)
            ]
        elif key in ("choices", "content", "data"):
            shape[key] = _describe(value)
        elif (
            isinstance(value, str | int | float | bool)
            or value is None
            or key in ("usage", "stream_options", "response_format", "metadata")
        ):
            shape[key] = value
    return shape


def _describe(value: Any) -> Any:
    if isinstance(value, str):
        return {"chars": len(value)}
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict):
                role = item.get("role") or item.get("type") or item.get("finish_reason")
                size = len(json.dumps(item, default=str))
                out.append({"role": role, "chars": size})
            else:
                out.append({"chars": len(str(item))})
        return out
    return None


def body_for_storage(body: Any) -> tuple[Any, bool]:
    """(stored body, truncated?) for one request or response body."""
    if body is None:
        return None, False
    if settings.LOG_BODIES == "metadata":
        return body_shape(body), False
    encoded = json.dumps(body, default=str)
    if len(encoded) <= settings.LOG_MAX_BODY_BYTES:
        return body, False
    return {"truncated": True, "prefix": encoded[: settings.LOG_MAX_BODY_BYTES]}, True


def stream_text_for_storage(stream_format: str, events: list[bytes]) -> tuple[str, Any]:
    """(assembled output text, assembled response) of a relayed stream."""
    assembled = get_adapter(stream_format).assemble_stream(events)
    if settings.LOG_BODIES == "metadata":
        return "", body_shape(assembled)
    text = assembled.get("text", "") if isinstance(assembled, dict) else ""
    return text[: settings.LOG_MAX_BODY_BYTES], assembled
