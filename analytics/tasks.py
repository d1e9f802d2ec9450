"""django-q2 entry points (scheduled by `analytics.services.schedules_ensure`)."""

from __future__ import annotations

from analytics.services import rollup_recent


def rollup_recent_task() -> dict[str, int]:
    return rollup_recent()
