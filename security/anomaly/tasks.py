"""Scheduled jobs (django-q2). Their schedules are created by the `anomaly` migration.

- `refit_baselines`, hourly: baselines from the stored request history.
- `housekeeping`, every minute: lift expired countermeasures, resolve anomalies
  that stopped.
"""

from __future__ import annotations

from typing import Any

SCHEDULES: list[dict[str, Any]] = [
    {
        "name": "anomaly: refit baselines",
        "func": "security.anomaly.tasks.refit_baselines",
        "schedule_type": "H",
    },
    {
        "name": "anomaly: housekeeping",
        "func": "security.anomaly.tasks.housekeeping",
        "schedule_type": "I",
        "minutes": 1,
    },
]


def refit_baselines() -> int:
    from security.anomaly.fitting import baselines_refit

    return baselines_refit()


def housekeeping() -> dict[str, int]:
    from security.anomaly.responses import anomalies_resolve_quiet, countermeasures_expire

    return {"lifted": countermeasures_expire(), "resolved": anomalies_resolve_quiet()}


def schedules_ensure(schedule_model: Any) -> None:
    """Idempotent: create or update the schedules (used by the migration)."""
    for spec in SCHEDULES:
        fields = {k: v for k, v in spec.items() if k != "name"}
        schedule_model.objects.update_or_create(name=spec["name"], defaults=fields)
