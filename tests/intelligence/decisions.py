"""The enhancement decisions in the security app's audit trail, for assertions."""

from __future__ import annotations

from django.db.models import QuerySet


def decision_records() -> QuerySet:
    from security.models import AuditEntry

    return AuditEntry.objects.filter(action__regex=r"^(rule|experiment|suggestion)\.")
