"""The Anthropic-compatible endpoints under /v1 (one ninja Router; logic in the pipeline).

Auth by `x-api-key` or `Authorization: Bearer`; errors in Anthropic's error JSON.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router

from proxy.services import pipeline

router = Router(tags=["Anthropic-compatible API"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}}
        },
    }
}


@router.post(
    "/messages",
    summary="Create a message (Anthropic format; streaming with `stream: true`)",
    openapi_extra=_BODY,
)
async def messages(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    return await pipeline.handle(request, api_format="anthropic", endpoint="messages")


@router.post(
    "/messages/count_tokens",
    summary="Count the input tokens of a message (Anthropic format; Anthropic upstreams only)",
    openapi_extra=_BODY,
)
async def count_tokens(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    return await pipeline.handle(request, api_format="anthropic", endpoint="count_tokens")
