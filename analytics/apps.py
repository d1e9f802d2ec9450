from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    from analytics.services import schedules_ensure

    schedules_ensure()


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Schedules are declared in code and written (idempotently) after each migrate.
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="analytics-schedules")
