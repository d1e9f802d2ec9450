"""Interfaces into the audit trail: login signals and the admin's change log.

Admin changes are recorded by `AuditedAdmin`, a ModelAdmin mixin overriding
`log_addition`, `log_change` and `log_deletions` (Django calls them for every
add, change and delete made in the admin, bulk deletions included, with the
user and the change message). We chose these overrides over a `post_save`
receiver on admin's LogEntry because Django 5.1+ writes bulk deletions with
`bulk_create`, which sends no signal.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from security.services.audit import audit_record


def actor_of(request: HttpRequest | None) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"admin:{user.get_username()}"
    return "system"


def on_login(sender: Any, request: HttpRequest | None = None, user: Any = None, **_: Any) -> None:
    audit_record(
        actor=f"user:{user.get_username()}" if user else "unknown",
        action="auth.login",
        obj=user,
        data={"ip": request.META.get("REMOTE_ADDR") if request else None},
    )


def on_login_failed(sender: Any, credentials: Any = None, request: Any = None, **_: Any) -> None:
    audit_record(
        actor=f"user:{(credentials or {}).get('username', '')}",
        action="auth.login_failed",
        data={"ip": request.META.get("REMOTE_ADDR") if request is not None else None},
    )


class AuditedAdmin(admin.ModelAdmin):
    """Every admin add, change and deletion goes into the audit trail."""

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        audit_record(
            actor=actor_of(request),
            action=f"{obj._meta.model_name}.add",
            obj=obj,
            data={"changes": _message(message)},
        )
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        audit_record(
            actor=actor_of(request),
            action=f"{obj._meta.model_name}.change",
            obj=obj,
            data={"changes": _message(message)},
        )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            audit_record(actor=actor_of(request), action=f"{obj._meta.model_name}.delete", obj=obj)
        return entries


def _message(message: Any) -> Any:
    return message if isinstance(message, list | dict | str) else str(message)
