"""Who may view which namespace on the dashboard (staff need no membership)."""

from __future__ import annotations

from django.contrib import admin

from dashboard.models import NamespaceMembership
from security.services.audit_hooks import AuditedAdmin


@admin.register(NamespaceMembership)
class NamespaceMembershipAdmin(AuditedAdmin):
    list_display = ("user", "namespace", "role", "created_at")
    list_filter = ("role", "namespace")
    search_fields = ("user__username", "namespace__name")
    autocomplete_fields = ("namespace",)
    raw_id_fields = ("user",)
