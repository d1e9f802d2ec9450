"""The forwarder's side of translation: when the caller's API is not the upstream's.

Called from `forwarding.py` at three points: building the upstream request,
reading a non-streamed answer, and relaying a stream. When caller and upstream
speak the same format these are pass-through (no re-serialisation).
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from django.conf import settings

from proxy.call import Call
from proxy.config import TargetInfo
from proxy.errors import ProxyError
from proxy.providers import UpstreamRequest, get_adapter
from proxy.translation import TranslationError, pair


def translated(call: Call, adapter: ModuleType) -> bool:
    return bool(call.api_format != adapter.API_FORMAT)


def unsupported(call: Call, adapter: ModuleType, error: TranslationError) -> ProxyError:
    return ProxyError(
        400,
        "invalid_request",
        f"Model {call.requested_model!r} is served in the {adapter.API_FORMAT} format, and "
        f"this request cannot be translated to it: {error}",
        code="unsupported_translation",
    )


def forwarded_headers(call: Call, adapter: ModuleType) -> dict[str, str]:
    """Client headers the upstream's API defines (anthropic-version, anthropic-beta)."""
    names = getattr(adapter, "FORWARDED_HEADERS", ())
    return {name: call.headers[name] for name in names if call.headers.get(name)}


def upstream_request(call: Call, target: TargetInfo, adapter: ModuleType) -> UpstreamRequest:
    """The request for one target, its body translated when the formats differ."""
    endpoint, body = call.endpoint, call.body
    call.annotations.pop("translated", None)  # set again below for this target only
    call.annotations.pop("translation_dropped", None)
    if translated(call, adapter):
        try:
            translation = pair(call.api_format, adapter.API_FORMAT)
            endpoint = translation.upstream_endpoint(call.endpoint)
            body = translation.requests.request(
                call.body, default_max_tokens=settings.ANTHROPIC_DEFAULT_MAX_TOKENS
            )
        except TranslationError as error:
            raise unsupported(call, adapter, error) from error
        call.annotations["translated"] = f"{call.api_format}->{adapter.API_FORMAT}"
        left_out = translation.requests.dropped(call.body)
        if left_out:
            call.annotations["translation_dropped"] = left_out
    headers = {**target.provider.extra_headers, **forwarded_headers(call, adapter)}
    request: UpstreamRequest = adapter.build_request(
        endpoint,
        body,
        model=target.model,
        api_key=target.provider.api_key,
        base_url=target.provider.base_url,
        extra_headers=headers,
        want_usage=True,
    )
    return request


def caller_body(call: Call, adapter: ModuleType, body: Any) -> Any:
    """A non-streamed upstream answer in the caller's format (the same object when no translation)."""
    if not translated(call, adapter) or not isinstance(body, dict):
        return body
    responses = pair(call.api_format, adapter.API_FORMAT).responses
    try:
        return responses.response(body, created=int(time.time()))
    except TranslationError as error:
        raise ProxyError(
            502,
            "upstream",
            f"The upstream's answer could not be translated: {error}",
            code="untranslatable_response",
        ) from error


def caller_finish_reason(call: Call, body: Any) -> str:
    """The finish reason in the caller's vocabulary, read from a body in the caller's format."""
    return str(get_adapter(call.api_format).summarize_response(body).finish_reason)


def stream_translator(call: Call, adapter: ModuleType) -> Any:
    """A fresh per-stream translator, or None when the stream is relayed as is."""
    if not translated(call, adapter):
        return None
    responses = pair(call.api_format, adapter.API_FORMAT).responses
    return responses.StreamTranslator(
        client_wants_usage=call.client_wants_usage, created=int(time.time())
    )
