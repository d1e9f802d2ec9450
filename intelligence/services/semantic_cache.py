"""The semantic cache: opt-in per route, answers a paraphrase of a cached prompt.

Eligible requests: chat, on a route whose `SemanticCacheSetting` is enabled, one
user message and no assistant turn (single turn), no tools unless the route
allows them, one choice. A cached prompt is a candidate only for the same
namespace, route, model, API format and system prompt; it answers when its
cosine similarity reaches the route's threshold.

Cost on the request path: on routes that enabled the cache only, one embedding
(~0.1 ms) and one lookup awaited on the proxy's database thread (an HNSW index
scan on PostgreSQL, a numpy scan of the route's entries on SQLite). Other routes
pay a dictionary lookup. Answers are stored after the response, off the path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from intelligence.services.embeddings import embed, prompt_for_embedding
from intelligence.services.templates import content_text
from proxy.call import Call
from proxy.providers import Usage, get_adapter
from proxy.runtime import Runtime

CACHE_HEADER = "x-llmproxy-cache"


@dataclass(frozen=True, slots=True)
class CacheSettingInfo:
    threshold: float
    allow_tools: bool
    ttl_seconds: int
    max_entries: int


def snapshot_cache_settings() -> tuple[str, dict[int, CacheSettingInfo]]:
    from intelligence.models import SemanticCacheSetting

    return "semantic_cache", {
        row.route_id: CacheSettingInfo(
            threshold=row.threshold,
            allow_tools=row.allow_tools,
            ttl_seconds=row.ttl_seconds,
            max_entries=row.max_entries,
        )
        for row in SemanticCacheSetting.objects.filter(enabled=True)
    }


@dataclass(frozen=True, slots=True)
class CacheKey:
    namespace_id: int
    route_id: int
    model: str
    system_hash: str
    prompt: str


def cache_key(call: Call) -> tuple[CacheKey, CacheSettingInfo] | None:
    """The cache key of an eligible request, else None.

    A request under an output policy (output scanning, reversible redaction) never
    takes part: its answer holds values restored for this caller only.
    """
    if call.endpoint != "chat" or call.route is None or call.snapshot is None:
        return None
    if call.output_filters:
        return None
    setting = call.snapshot.extra.get("semantic_cache", {}).get(call.route.id)
    if setting is None or call.namespace_id is None:
        return None
    body = call.body
    messages = body.get("messages") or []
    if any(m.get("role") not in ("system", "developer", "user") for m in messages):
        return None
    if sum(1 for m in messages if m.get("role") == "user") != 1:
        return None
    if (body.get("tools") or body.get("functions")) and not setting.allow_tools:
        return None
    if (body.get("n") or 1) != 1:
        return None
    system = [content_text(m.get("content")) for m in messages if m.get("role") != "user"]
    system_hash = hashlib.sha1(
        json.dumps([call.api_format, system], ensure_ascii=False).encode()
    ).hexdigest()
    prompt = prompt_for_embedding(body)
    if not prompt.strip():
        return None
    key = CacheKey(call.namespace_id, call.route.id, call.requested_model, system_hash, prompt)
    return key, setting


def cache_lookup(key: CacheKey, setting: CacheSettingInfo) -> tuple[Any, float, str] | None:
    """(response, similarity, source request id) of the nearest cached prompt, if near enough."""
    from intelligence.selectors import nearest_cache_entry

    found = nearest_cache_entry(
        namespace_id=key.namespace_id,
        route_id=key.route_id,
        model=key.model,
        system_hash=key.system_hash,
        vector=embed(key.prompt),
        newer_than=timezone.now() - timedelta(seconds=setting.ttl_seconds),
    )
    if found is None or found[1] < setting.threshold:
        return None
    entry, similarity = found
    type(entry).objects.filter(pk=entry.pk).update(hits=entry.hits + 1)
    return entry.response, similarity, entry.source_request


def cache_store(key: CacheKey, setting: CacheSettingInfo, response: Any, request_id: str) -> None:
    from intelligence.models import SemanticCacheEntry

    try:
        entries = SemanticCacheEntry.objects.filter(route_id=key.route_id)
        entries.filter(
            created_at__lt=timezone.now() - timedelta(seconds=setting.ttl_seconds)
        ).delete()
        SemanticCacheEntry.objects.create(
            namespace_id=key.namespace_id,
            route_id=key.route_id,
            model=key.model,
            system_hash=key.system_hash,
            prompt=key.prompt[:20000],
            vector=embed(key.prompt).tolist(),
            response=response,
            source_request=request_id,
        )
        surplus = entries.order_by("-created_at").values_list("pk", flat=True)[
            setting.max_entries :
        ]
        if surplus:
            SemanticCacheEntry.objects.filter(pk__in=list(surplus)).delete()
    finally:
        connection.close()


async def answer_from_cache(
    call: Call, runtime: Runtime
) -> HttpResponse | StreamingHttpResponse | None:
    found = cache_key(call)
    if found is None:
        return None
    key, setting = found
    if call.stream and call.api_format != "openai":
        return None
    try:
        hit = await runtime.run_on_db_thread(cache_lookup, key, setting)
    except DatabaseError:  # the database is down: a miss, and the request goes upstream
        call.annotations["semantic_cache"] = {"hit": False, "unavailable": True}
        return None
    if hit is None:
        call.annotations["semantic_cache"] = {"hit": False}
        return None
    response, similarity, source = hit
    call.annotations["semantic_cache"] = {
        "hit": True,
        "similarity": round(similarity, 4),
        "source_request": source,
    }
    call.usage = Usage(prompt_tokens=0, completion_tokens=0)
    call.cost_usd = Decimal(0)
    call.cache_hit = True  # the cost stage leaves it at 0
    call.response_body = response
    call.finish_reason = _finish_reason(response)
    call.response_headers[CACHE_HEADER] = "semantic-hit"
    if call.stream:
        streamed = StreamingHttpResponse(
            replay_as_sse(call, response, runtime), content_type="text/event-stream"
        )
        streamed["cache-control"] = "no-cache"
        return streamed
    body = dict(response)
    body["id"] = f"chatcmpl-{call.request_id}"
    body["created"] = int(time.time())
    return HttpResponse(json.dumps(body), content_type="application/json")


def _finish_reason(response: Any) -> str:
    choices = response.get("choices") if isinstance(response, dict) else None
    if choices and isinstance(choices[0], dict):
        return str(choices[0].get("finish_reason") or "stop")
    return "stop"


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None) -> bytes:
    chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def replay_as_sse(call: Call, response: dict[str, Any], runtime: Runtime) -> Any:
    """A cached chat completion replayed as an OpenAI chat stream."""
    try:
        base = {
            "id": f"chatcmpl-{call.request_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": response.get("model", call.requested_model),
        }
        message = (response.get("choices") or [{}])[0].get("message") or {}
        yield _chunk(base, {"role": "assistant", "content": ""}, None)
        content = message.get("content") or ""
        words = content.split(" ")
        for i in range(0, len(words), 16):
            yield _chunk(base, {"content": (" " if i else "") + " ".join(words[i : i + 16])}, None)
        yield _chunk(base, {}, call.finish_reason or "stop")
        if call.client_wants_usage:
            usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            yield b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"
    finally:
        runtime.request_ended(call.to_log_entry())


def keep_in_cache(
    call: Call, response: HttpResponse | StreamingHttpResponse
) -> HttpResponse | StreamingHttpResponse:
    """Store a fresh answer for later paraphrases, on a worker thread (fire and forget).

    A streamed answer is stored once its stream has ended well: the relay is
    wrapped, and the stored events are assembled into a chat completion.
    """
    if (call.annotations.get("semantic_cache") or {}).get("hit") is not False:
        return response  # not eligible (no lookup was made), or answered from the cache
    found = cache_key(call)
    if found is None or call.status != 200 or call.error is not None:
        return response
    key, setting = found
    if isinstance(response, StreamingHttpResponse):
        response.streaming_content = _store_when_done(
            call, response.streaming_content, key, setting
        )
    else:
        _store(call, key, setting, call.response_body)
    return response


def _store(call: Call, key: CacheKey, setting: CacheSettingInfo, answer: Any) -> None:
    if call.error is not None or call.client_disconnected:
        return
    if call.finish_reason not in ("stop", "end_turn") or not isinstance(answer, dict):
        return
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, cache_store, key, setting, answer, call.request_id)


async def _store_when_done(
    call: Call, chunks: Any, key: CacheKey, setting: CacheSettingInfo
) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk
    if call.stream_events and call.stream_format:
        answer = get_adapter(call.stream_format).assemble_stream(call.stream_events)
        answer.pop("text", None)
        answer["object"] = "chat.completion"
        _store(call, key, setting, answer)
