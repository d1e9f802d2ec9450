"""One error taxonomy for the gateway, rendered in the caller's own API format.

A `ProxyError` knows its HTTP status and a kind; `render_error` turns it into
OpenAI's `{"error": {...}}` or Anthropic's `{"type": "error", "error": {...}}`.
An `UpstreamError` also keeps the evidence: provider, upstream status, whether
it may be retried elsewhere, and the raw response body.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

# kind -> (OpenAI error type, Anthropic error type)
ERROR_TYPES: dict[str, tuple[str, str]] = {
    "invalid_request": ("invalid_request_error", "invalid_request_error"),
    "authentication": ("invalid_request_error", "authentication_error"),
    "permission": ("permission_denied", "permission_error"),
    "not_found": ("invalid_request_error", "not_found_error"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit": ("rate_limit_exceeded", "rate_limit_error"),
    "budget_exceeded": ("budget_exceeded", "rate_limit_error"),
    "policy_violation": ("policy_violation", "invalid_request_error"),
    "upstream": ("upstream_error", "api_error"),
    "timeout": ("timeout", "timeout_error"),
    "overloaded": ("server_error", "overloaded_error"),
    "internal": ("server_error", "api_error"),
}


class ProxyError(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.kind, ERROR_TYPES["internal"])[0]


class UpstreamError(ProxyError):
    """An upstream answered with an error, or could not be reached."""

    def __init__(
        self,
        *,
        provider: str,
        status: int,
        message: str,
        upstream_status: int | None = None,
        retryable: bool,
        raw_body: bytes = b"",
        kind: str = "upstream",
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, kind, message, code=kind, headers=headers)
        self.provider = provider
        self.upstream_status = upstream_status
        self.retryable = retryable
        self.raw_body = raw_body
        self.retry_after = retry_after

    def evidence(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "upstream_status": self.upstream_status,
            "retryable": self.retryable,
            "message": self.message,
            "body": self.raw_body[:2000].decode("utf-8", "replace"),
        }


def openai_error_body(error: ProxyError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": ERROR_TYPES.get(error.kind, ERROR_TYPES["internal"])[0],
            "param": error.param,
            "code": error.code,
        }
    }


def anthropic_error_body(error: ProxyError) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {
            "type": ERROR_TYPES.get(error.kind, ERROR_TYPES["internal"])[1],
            "message": error.message,
        },
    }


ERROR_RENDERERS = {"openai": openai_error_body, "anthropic": anthropic_error_body}


def error_body(api_format: str, error: ProxyError) -> dict[str, Any]:
    return ERROR_RENDERERS[api_format](error)


def render_error(api_format: str, error: ProxyError) -> HttpResponse:
    response = HttpResponse(
        json.dumps(error_body(api_format, error)),
        status=error.status,
        content_type="application/json",
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


def openai_stream_error(error: ProxyError) -> bytes:
    return b"data: " + json.dumps(openai_error_body(error)).encode() + b"\n\n"


def anthropic_stream_error(error: ProxyError) -> bytes:
    return b"event: error\ndata: " + json.dumps(anthropic_error_body(error)).encode() + b"\n\n"


STREAM_ERROR_RENDERERS = {"openai": openai_stream_error, "anthropic": anthropic_stream_error}


def stream_error_event(api_format: str, error: ProxyError) -> bytes:
    """An error that happens after a stream has started, as an SSE event."""
    return STREAM_ERROR_RENDERERS[api_format](error)
