"""Admin for policies and their rules, security events and the audit trail (read-only)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from security.checks import CHECKS, get_check
from security.models import AuditEntry, Policy, PolicyRule, SecurityEvent
from security.services.audit_hooks import AuditedAdmin


def params_help() -> str:
    """Each detector's parameters and defaults, from its typed model (docs/security.md)."""
    lines = []
    for name in CHECKS:
        defaults = get_check(name).Params().model_dump()
        lines.append(f"{name}: {json.dumps(defaults)}")
    return "Parameters (JSON; omitted keys take these defaults) — " + " | ".join(lines)


class PolicyRuleInline(admin.TabularInline):
    model = PolicyRule
    extra = 1
    fields = ("order", "detector", "params", "threshold", "action", "enabled")

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "params" and field is not None:
            field.help_text = params_help()
        return field


@admin.register(Policy)
class PolicyAdmin(AuditedAdmin):
    list_display = (
        "name",
        "enabled",
        "scope",
        "namespace",
        "api_key",
        "mode",
        "direction",
        "priority",
    )
    list_filter = ("enabled", "scope", "mode", "direction")
    search_fields = ("name", "description")
    inlines = (PolicyRuleInline,)
    fields = (
        "name",
        "description",
        "enabled",
        ("scope", "namespace", "api_key"),
        ("mode", "direction", "priority"),
        "reversible",
        "webhook_url",
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "policy",
        "mode",
        "direction",
        "detector",
        "label",
        "score",
        "action_taken",
        "request_log",
    )
    list_filter = ("mode", "direction", "detector", "action_taken", "policy")
    date_hierarchy = "created_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "actor", "action", "object_type", "object_repr")
    list_filter = ("action",)
    search_fields = ("actor", "object_repr", "action")


import security.anomaly.admin  # noqa: E402, F401  (anomalies, rules, countermeasures)
