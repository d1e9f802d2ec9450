"""GET /metrics: Prometheus text format, behind `METRICS_TOKEN` (Bearer)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.http import require_GET

from analytics.metrics import get_metrics


def _queue_gauges() -> list[tuple[str, str, float]]:
    from django_q.models import OrmQ

    from dashboard.broadcast import get_hub
    from proxy.runtime import get_runtime

    runtime = get_runtime()
    hub = get_hub()
    try:
        tasks = float(OrmQ.objects.count())
    except Exception:  # the broker table is unreachable: report it as unknown
        tasks = float("nan")
    return [
        ("llmproxy_log_queue_pending", "Request records waiting for the log writer.", runtime.recorder.pending),
        ("llmproxy_log_written", "Request records stored by this process's writer.", runtime.recorder.written),
        ("llmproxy_log_spilled", "Request records spilled to disk by this process.", runtime.recorder.spilled),
        ("llmproxy_requests_in_flight", "Requests being handled by this process.", runtime.in_flight),
        ("llmproxy_dashboard_clients", "Dashboard WebSocket clients of this process.", hub.subscriber_count),
        ("llmproxy_dashboard_outbox_pending", "Dashboard events waiting for other processes.", hub.outbox_depth),
        ("llmproxy_dashboard_events_dropped", "Dashboard events dropped by this process.", hub.dropped),
        ("llmproxy_task_queue_depth", "django-q2 tasks waiting in the broker.", tasks),
    ]  # fmt: skip


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponseNotFound("metrics are off: set METRICS_TOKEN")
    offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(offered.encode(), token.encode()):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["www-authenticate"] = 'Bearer realm="metrics"'
        return response
    body = get_metrics().render(_queue_gauges())
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")
