"""The state of one proxied request as it moves through the pipeline."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from proxy.config import ConfigSnapshot, KeyInfo, RouteInfo, TargetInfo
from proxy.errors import ProxyError, UpstreamError
from proxy.providers import Usage
from proxy.recorder import LogEntry


@dataclass(slots=True)
class Call:
    api_format: str  # the caller's API: "openai" or "anthropic"
    endpoint: str  # "chat", "embeddings", "messages", ...
    headers: Any
    client_ip: str | None = None
    user_agent: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    body: dict[str, Any] = field(default_factory=dict)
    snapshot: ConfigSnapshot | None = None
    key: KeyInfo | None = None
    session_id: str = ""
    requested_model: str = ""
    stream: bool = False
    client_wants_usage: bool = False
    route: RouteInfo | None = None
    plan: list[TargetInfo] = field(default_factory=list)
    target: TargetInfo | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    error: ProxyError | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""
    cost_usd: Decimal | None = None
    upstream_seconds: float = 0.0
    first_byte_at: float | None = None
    overhead_ms: float | None = None
    response_body: Any = None
    stream_events: list[bytes] | None = None
    stream_format: str = ""
    stream_truncated: bool = False  # events past LOG_MAX_BODY_BYTES were not kept for the log
    client_disconnected: bool = False
    annotations: dict[str, Any] = field(default_factory=dict)
    # Response cache: set by `proxy.services.cache`. A hit never reached an upstream and
    # costs nothing: the cost stage must leave `cost_usd` at 0 when `cache_hit` is set.
    cache_hit: bool = False
    cache_plan: Any = None  # a CachePlan when this request may be stored
    cache_capture: Any = None  # a StreamCapture: the client-bound events of a stream to store
    pattern: Any = None  # intelligence's template match (pattern id, variables), if any
    response_headers: dict[str, str] = field(default_factory=dict)
    ledger: Any = None  # what the limits stage reserved (proxy.services.limits.Ledger)
    accounted: bool = False  # cost computed and limits settled
    # Factories of stream text filters (see proxy.stream_text): the response's text goes
    # through them, streamed or not (security output scanning, pseudonym restoration).
    output_filters: list[Any] = field(default_factory=list)

    @property
    def namespace_id(self) -> int | None:
        return self.key.namespace_id if self.key else None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def mark_overhead(self) -> float:
        """Time spent in the proxy so far, upstream excluded."""
        self.overhead_ms = round(max(0.0, self.elapsed_ms() - self.upstream_seconds * 1000), 3)
        return self.overhead_ms

    def fail(self, error: ProxyError) -> None:
        self.error = error
        self.status = error.status

    def to_log_entry(self) -> LogEntry:
        error = self.error
        if isinstance(error, UpstreamError) and error.provider:
            self.annotations.setdefault("upstream_error", error.evidence())
        return LogEntry(
            id=self.request_id,
            created_at=self.created_at,
            endpoint=self.endpoint,
            api_format=self.api_format,
            status_code=self.status,
            latency_ms=round(self.elapsed_ms(), 3),
            namespace_id=self.namespace_id,
            api_key_id=self.key.id if self.key else None,
            session_id=self.session_id,
            stream=self.stream,
            requested_model=self.requested_model,
            resolved_model=self.target.model if self.target else "",
            provider=self.target.provider.name if self.target else "",
            route=self.route.alias if self.route else "",
            error_type=error.kind if error else "",
            error_message=error.message if error else "",
            finish_reason=self.finish_reason,
            client_disconnected=self.client_disconnected,
            upstream_ms=round(self.upstream_seconds * 1000, 3) if self.target else None,
            ttft_ms=(
                round((self.first_byte_at - self.started) * 1000, 3)
                if self.first_byte_at is not None
                else None
            ),
            overhead_ms=self.overhead_ms,
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            cached_tokens=self.usage.cached_tokens,
            cache_write_tokens=self.usage.cache_write_tokens,
            cost_usd=self.cost_usd,
            attempts=self.attempts,
            client_ip=self.client_ip,
            user_agent=self.user_agent,
            annotations=self.annotations,
            request_body=self.body or None,
            response_body=self.response_body,
            stream_events=self.stream_events,
            stream_format=self.stream_format,
            stream_truncated=self.stream_truncated,
        )
