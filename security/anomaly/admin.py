"""Admin for anomalies, response rules, countermeasures and their audit records.

One-click reversals are admin actions that call `responses` services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from security.anomaly.models import (
    Anomaly,
    AnomalyAction,
    Baseline,
    Countermeasure,
    ResponseRule,
)
from security.anomaly.responses import (
    anomaly_acknowledge,
    anomaly_resolve,
    countermeasure_lift,
)
from security.services.audit_hooks import AuditedAdmin


def _actor(request: HttpRequest) -> str:
    return request.user.get_username() if request.user.is_authenticated else "admin"


class CountermeasureInline(admin.TabularInline):
    model = Countermeasure
    extra = 0
    can_delete = False
    fields = ("action", "client_ip", "requests_per_minute", "created_at", "expires_at", "lifted_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Anomaly)
class AnomalyAdmin(AuditedAdmin):
    list_display = ("last_seen", "severity", "kind", "subject", "state", "occurrences", "summary")
    list_filter = ("state", "severity", "kind", "namespace")
    search_fields = ("subject", "summary")
    readonly_fields = [f.name for f in Anomaly._meta.fields]
    inlines = (CountermeasureInline,)
    actions = ("acknowledge", "resolve")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Acknowledge selected anomalies")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Anomaly]) -> None:
        for anomaly in queryset:
            anomaly_acknowledge(anomaly=anomaly, actor=_actor(request))

    @admin.action(description="Resolve selected anomalies")
    def resolve(self, request: HttpRequest, queryset: QuerySet[Anomaly]) -> None:
        for anomaly in queryset:
            anomaly_resolve(anomaly=anomaly, actor=_actor(request))


@admin.register(ResponseRule)
class ResponseRuleAdmin(AuditedAdmin):
    list_display = (
        "name",
        "kind",
        "min_severity",
        "action",
        "namespace",
        "throttle_rpm",
        "duration_minutes",
        "enabled",
    )
    list_filter = ("action", "enabled", "min_severity")


@admin.register(Countermeasure)
class CountermeasureAdmin(AuditedAdmin):
    list_display = (
        "created_at",
        "action",
        "api_key",
        "client_ip",
        "requests_per_minute",
        "expires_at",
        "lifted_at",
        "lifted_by",
    )
    list_filter = ("action",)
    readonly_fields = [f.name for f in Countermeasure._meta.fields]
    actions = ("lift",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Lift (undo) selected countermeasures")
    def lift(self, request: HttpRequest, queryset: QuerySet[Countermeasure]) -> None:
        lifted = 0
        for measure in queryset.filter(lifted_at__isnull=True).select_related("api_key"):
            countermeasure_lift(measure=measure, actor=_actor(request))
            lifted += 1
        messages.success(request, f"{lifted} countermeasure(s) lifted.")


@admin.register(AnomalyAction)
class AnomalyActionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target")
    list_filter = ("action", "actor")
    search_fields = ("target",)
    readonly_fields = ("created_at", "actor", "action", "target", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.method in ("GET", "HEAD")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Baseline)
class BaselineAdmin(admin.ModelAdmin):
    list_display = ("subject", "subject_id", "fitted_at")
    list_filter = ("subject",)
    readonly_fields = ("subject", "subject_id", "stats", "fitted_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
