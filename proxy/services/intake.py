"""Stage 0, intake: read and check the caller's body before anything else.

Raises `ProxyError` 400 or 413 with a message that says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from proxy.call import Call
from proxy.errors import ProxyError


def _bad(message: str, param: str | None = None) -> ProxyError:
    return ProxyError(400, "invalid_request", message, param=param)


def read_json(request: HttpRequest) -> dict[str, Any]:
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise ProxyError(
            413,
            "request_too_large",
            "The request body is over the size limit.",
            code="request_too_large",
        ) from exc
    if len(raw) > settings.MAX_REQUEST_BYTES:
        raise ProxyError(
            413,
            "request_too_large",
            f"The request body is {len(raw)} bytes; the limit is {settings.MAX_REQUEST_BYTES}.",
            code="request_too_large",
        )
    if not raw.strip():
        raise _bad("The request body is empty; a JSON object was expected.")
    try:
        # UTF-8 only (RFC 8259): json.loads(bytes) would also take UTF-16 and UTF-32.
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _bad("The request body is not valid UTF-8.") from exc
    except ValueError as exc:
        raise _bad(f"The request body is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise _bad("The request body is nested too deeply.") from exc
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    return body


def _require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("`model` is required and must be a non-empty string.", "model")
    return model


def _check_stream(body: dict[str, Any]) -> bool:
    stream = body.get("stream", False)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise _bad("`stream` must be a boolean.", "stream")
    return stream


def check_chat(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("`messages` is required and must be a non-empty array.", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _bad(
                f"`messages[{index}]` must be an object with a `role`.", f"messages[{index}]"
            )


def check_embeddings(body: dict[str, Any]) -> None:
    if body.get("input") in (None, "", []):
        raise _bad("`input` is required.", "input")


def check_anthropic_messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("`messages` is required and must be a non-empty array.", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _bad(
                f'`messages[{index}].role` must be "user" or "assistant".',
                f"messages[{index}]",
            )
        if not isinstance(message.get("content"), str | list):
            raise _bad(
                f"`messages[{index}].content` must be a string or an array of blocks.",
                f"messages[{index}]",
            )
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise _bad("`system` must be a string or an array of text blocks.", "system")


def check_messages(body: dict[str, Any]) -> None:
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _bad("`max_tokens` is required and must be a positive integer.", "max_tokens")
    check_anthropic_messages(body)


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "chat": check_chat,
    "embeddings": check_embeddings,
    "messages": check_messages,
    "count_tokens": check_anthropic_messages,
}


def session_of(call: Call, body: dict[str, Any]) -> str:
    header = call.headers.get("x-session-id", "")
    if header:
        return header
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        for name in ("session_id", "user_id"):  # user_id: Anthropic's metadata field
            if isinstance(metadata.get(name), str | int) and metadata[name] != "":
                return str(metadata[name])
    user = body.get("user")
    return user if isinstance(user, str) else ""


def take_in(call: Call, request: HttpRequest) -> None:
    body = read_json(request)
    call.requested_model = _require_model(body)
    call.stream = _check_stream(body)
    CHECKS[call.endpoint](body)
    options = body.get("stream_options")
    call.client_wants_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    call.session_id = session_of(call, body)
    call.body = body
