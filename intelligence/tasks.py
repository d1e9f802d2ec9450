"""Learning jobs for django-q2, declared in code. Each is idempotent: safe to run twice.

`ensure_schedules()` creates or updates the schedules (run after `migrate`).
"""

from __future__ import annotations

from typing import Any

SCHEDULES: tuple[dict[str, Any], ...] = (
    {"name": "intelligence.learn", "func": "intelligence.tasks.learn_patterns", "minutes": 1},
    {"name": "intelligence.rollup", "func": "intelligence.tasks.rollup_statistics", "minutes": 5},
    {"name": "intelligence.embed", "func": "intelligence.tasks.embed_prompts", "minutes": 5},
)


def learn_patterns() -> dict[str, int]:
    """Template discovery over the traffic logged since the last run, then a rollup."""
    from intelligence.services.discovery import learn
    from intelligence.services.stats import rollup

    report = learn()
    rollup()
    return {
        "requests": report.requests,
        "new_patterns": report.new_patterns,
        "new_versions": report.new_versions,
        "feedback": report.feedback,
    }


def rollup_statistics(hours: int = 2) -> int:
    from datetime import timedelta

    from django.utils import timezone

    from intelligence.services.stats import rollup

    return rollup(since=timezone.now() - timedelta(hours=hours))


def embed_prompts() -> dict[str, int]:
    from intelligence.services.semantic import embed_and_cluster

    return embed_and_cluster()


def ensure_schedules(**_: Any) -> int:
    """Create or update every schedule of `SCHEDULES` (by name). Returns how many."""
    from django_q.models import Schedule

    for spec in SCHEDULES:
        Schedule.objects.update_or_create(
            name=spec["name"],
            defaults={
                "func": spec["func"],
                "schedule_type": Schedule.MINUTES,
                "minutes": spec["minutes"],
                "repeats": -1,
            },
        )
    return len(SCHEDULES)
