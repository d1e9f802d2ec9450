"""What the dashboard's Security page shows (`dashboard.sections.SECTIONS["security"]`).

Each function takes the viewer's scope (None: staff, every namespace; else the
namespace ids they may see) and returns a `Section`, or None when it has nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from dashboard.sections import Section
from security.anomaly.models import Anomaly
from security.models import AuditEntry, SecurityEvent
from security.services.audit import audit_verify


def _scoped(queryset: QuerySet, scope: frozenset[int] | None, field: str) -> QuerySet:
    return queryset if scope is None else queryset.filter(**{f"{field}__in": scope})


def recent_events(scope: frozenset[int] | None) -> Section | None:
    events = _scoped(SecurityEvent.objects.order_by("-created_at"), scope, "namespace_id")[:25]
    rows = [
        [e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.policy, e.detector, e.label, e.action,
         e.action_taken, e.mode, e.direction]
        for e in events
    ]  # fmt: skip
    if not rows:
        return None
    return Section(
        title="Recent security events",
        columns=["Time", "Policy", "Detector", "Label", "Action", "Taken", "Mode", "Direction"],
        rows=rows,
        admin_url=reverse("admin:security_securityevent_changelist"),
    )


def policy_hit_rates(scope: frozenset[int] | None) -> Section | None:
    since = timezone.now() - timedelta(days=1)
    events = _scoped(SecurityEvent.objects.filter(created_at__gte=since), scope, "namespace_id")
    counts = (
        events.values("policy", "detector", "action_taken")
        .annotate(hits=Count("id"))
        .order_by("-hits")[:20]
    )
    rows = [[c["policy"], c["detector"], c["action_taken"], c["hits"]] for c in counts]
    if not rows:
        return None
    return Section(
        title="Policy hits, last 24 hours",
        columns=["Policy", "Detector", "Action taken", "Hits"],
        rows=rows,
    )


def open_anomalies(scope: frozenset[int] | None) -> Section | None:
    anomalies = _scoped(
        Anomaly.objects.exclude(state="resolved").order_by("-last_seen"), scope, "namespace_id"
    )[:20]
    rows = [
        [a.last_seen.strftime("%Y-%m-%d %H:%M"), a.severity, a.kind, a.state, a.summary]
        for a in anomalies
    ]
    if not rows:
        return None
    return Section(
        title="Open anomalies",
        columns=["Last seen", "Severity", "Kind", "State", "What changed"],
        rows=rows,
        admin_url=reverse("admin:security_anomaly_changelist"),
    )


def audit_log(scope: frozenset[int] | None) -> Section | None:
    if scope is not None or not AuditEntry.objects.exists():  # staff only: it spans namespaces
        return None
    report = audit_verify()
    status = (
        f"Chain intact: {report.checked} entries verified."
        if report.intact
        else f"Chain BROKEN at entry {report.broken_at}: {report.reason}."
    )
    entries = AuditEntry.objects.order_by("-id")[:15]
    return Section(
        title="Audit log",
        summary=status,
        columns=["#", "Time", "Actor", "Action", "Object"],
        rows=[
            [e.pk, e.created_at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.object_repr]
            for e in entries
        ],
        admin_url=reverse("admin:security_auditentry_changelist"),
    )
