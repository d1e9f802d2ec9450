"""The OpenAI-compatible endpoints under /v1 (one ninja Router; logic in the pipeline)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router

from proxy.services import pipeline

router = Router(tags=["OpenAI-compatible API"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}}
        },
    }
}


@router.post(
    "/chat/completions",
    summary="Create a chat completion (OpenAI format; streaming with `stream: true`)",
    openapi_extra=_BODY,
)
async def chat_completions(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    return await pipeline.handle(request, api_format="openai", endpoint="chat")


@router.post("/embeddings", summary="Create embeddings (OpenAI format)", openapi_extra=_BODY)
async def embeddings(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    return await pipeline.handle(request, api_format="openai", endpoint="embeddings")


@router.get("/models", summary="The models this key may use")
async def models(request: HttpRequest) -> HttpResponse:
    return await pipeline.list_models(request)
