"""Reads for the dashboard: who sees what."""

from __future__ import annotations

from typing import Any

from proxy.models import Namespace


def user_can_view_dashboard(user: Any) -> bool:
    """Staff, or a user with at least one namespace membership."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff or user.namespace_memberships.exists())


def visible_namespace_ids(user: Any) -> frozenset[int] | None:
    """None for staff (every namespace); otherwise the namespaces this user is a member of."""
    if user.is_staff:
        return None
    return frozenset(user.namespace_memberships.values_list("namespace_id", flat=True))


def visible_namespaces(user: Any) -> list[Namespace]:
    scope = visible_namespace_ids(user)
    namespaces = Namespace.objects.order_by("name")
    if scope is not None:
        namespaces = namespaces.filter(id__in=scope)
    return list(namespaces)


def _scoped_logs(scope: frozenset[int] | None) -> Any:
    from proxy.models import RequestLog

    logs = RequestLog.objects.all()
    if scope is not None:
        logs = logs.filter(namespace_id__in=scope)
    return logs


def recent_requests(scope: frozenset[int] | None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest requests, shaped like `request.completed` events (to prefill pages)."""
    rows = []
    for log in _scoped_logs(scope).order_by("-created_at")[:limit]:
        annotations = log.annotations or {}
        rows.append(
            {
                "type": "request.completed",
                "namespace_id": log.namespace_id,
                "data": {
                    "id": log.id,
                    "created_at": log.created_at.timestamp(),
                    "key_id": log.api_key_id,
                    "endpoint": log.endpoint,
                    "model": log.resolved_model or log.requested_model,
                    "provider": log.provider,
                    "status": log.status_code,
                    "error_type": log.error_type,
                    "stream": log.stream,
                    "latency_ms": log.latency_ms,
                    "ttft_ms": log.ttft_ms,
                    "prompt_tokens": log.prompt_tokens,
                    "completion_tokens": log.completion_tokens,
                    "cost_usd": float(log.cost_usd) if log.cost_usd is not None else None,
                    "finish_reason": log.finish_reason,
                    "pattern": _short(annotations.get("pattern")),
                    "security": _short(annotations.get("security")),
                },
            }
        )
    rows.reverse()
    return rows


def _short(value: Any) -> Any:
    from dashboard.broadcast import annotation_label

    return annotation_label(value)


def request_for_viewer(scope: frozenset[int] | None, request_id: str) -> Any:
    """One request with its body, if this viewer may see it."""
    return (
        _scoped_logs(scope)
        .select_related("body", "namespace", "api_key")
        .filter(id=request_id)
        .first()
    )
