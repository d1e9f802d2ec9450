"""The ONE module producers call to put something on the live dashboard.

    from dashboard import broadcast
    broadcast.publish("security.event", {"kind": "prompt_injection", ...}, namespace_id=ns.id)

Event names (`EVENT_PREFIXES`): `request.completed`, `security.event`, `anomaly.*`,
`experiment.*`, `alert`. Payloads must be JSON values (str, int, float, bool, None,
lists, dicts). `publish` never blocks and never awaits: safe on the proxy's hot path,
in a django-q2 task or in a thread. Events reach the WebSocket clients of this process
within `DASHBOARD_COALESCE_SECONDS`, and those of other processes through the
configured transport (see `dashboard.transports`).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.apps import apps

if TYPE_CHECKING:
    from dashboard.hub import EventHub
    from proxy.recorder import LogEntry

EVENT_PREFIXES = ("request.", "security.", "anomaly.", "experiment.", "alert")


def get_hub() -> EventHub:
    """This process's hub, created on first use (kept on the dashboard app config)."""
    from dashboard.hub import EventHub

    config = apps.get_app_config("dashboard")
    hub: EventHub | None = getattr(config, "hub", None)
    if hub is None:
        hub = EventHub()
        config.hub = hub  # type: ignore[attr-defined]
    return hub


def publish(event_type: str, payload: dict[str, Any], *, namespace_id: int | None = None) -> None:
    """Send an event to every dashboard viewer allowed to see `namespace_id`.

    Events without a namespace are shown to staff only.
    """
    if not event_type.startswith(EVENT_PREFIXES):
        raise ValueError(f"unknown dashboard event type {event_type!r}")
    get_hub().publish(
        {"type": event_type, "ts": time.time(), "namespace_id": namespace_id, "data": payload}
    )


def annotation_label(value: Any) -> Any:
    """A short label from an annotation another stage wrote (string, or dict with a name)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        for key in ("label", "name", "category", "kind", "detector", "action"):
            if isinstance(value.get(key), str):
                return value[key]
        if value.get("id") is not None:  # a pattern: "#12 v2"
            version = value.get("version")
            return f"#{value['id']}" + (f" v{version}" if version else "")
        return None
    if isinstance(value, list):
        return [
            label for label in (annotation_label(item) for item in value[:10]) if label is not None
        ]
    return str(value)[:100]


def request_completed_payload(entry: LogEntry) -> dict[str, Any]:
    """What the live monitor shows for one request (no bodies: they stay in the log)."""
    annotations = entry.annotations or {}
    cost = entry.cost_usd
    return {
        "id": entry.id,
        "created_at": entry.created_at.timestamp(),
        "key_id": entry.api_key_id,
        "endpoint": entry.endpoint,
        "model": entry.resolved_model or entry.requested_model,
        "requested_model": entry.requested_model,
        "provider": entry.provider,
        "status": entry.status_code,
        "error_type": entry.error_type,
        "stream": entry.stream,
        "latency_ms": entry.latency_ms,
        "ttft_ms": entry.ttft_ms,
        "overhead_ms": entry.overhead_ms,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "cost_usd": float(cost) if isinstance(cost, Decimal) else cost,
        "finish_reason": entry.finish_reason,
        "pattern": annotation_label(annotations.get("pattern")),
        "security": annotation_label(annotations.get("security")),
        "enhancements": annotation_label(annotations.get("enhancements")),
        "cache_hit": annotations.get("cache") == "hit",
    }


def observe_request(entry: LogEntry) -> None:
    """Request observer (see `proxy.runtime.REQUEST_OBSERVERS`): one `request.completed`,
    and one `security.event` when the request's policies detected something."""
    hub = get_hub()
    now = time.time()
    hub.publish(
        {
            "type": "request.completed",
            "ts": now,
            "namespace_id": entry.namespace_id,
            "data": request_completed_payload(entry),
        }
    )
    detections = entry.annotations.get("security")
    if isinstance(detections, list) and detections:
        hub.publish(
            {
                "type": "security.event",
                "ts": now,
                "namespace_id": entry.namespace_id,
                "data": security_event_payload(entry, detections),
            }
        )


def security_event_payload(entry: LogEntry, detections: list[Any]) -> dict[str, Any]:
    """What the Security page shows live: who, which detectors, what was done (no text)."""
    fields = ("detector", "label", "action", "score", "policy", "mode", "direction")
    return {
        "request_id": entry.id,
        "model": entry.requested_model,
        "status": entry.status_code,
        "detections": [
            {name: d.get(name) for name in fields if name in d}
            for d in detections[:20]
            if isinstance(d, dict)
        ],
    }
