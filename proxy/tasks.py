"""Background tasks run by django-q2 (schedules are declared in migrations)."""

from __future__ import annotations

import logging

from proxy.services.retention import logs_prune_by_retention

log = logging.getLogger(__name__)

# The retention job's schedule: created (or updated) by migration 0006_log_retention_schedule.
RETENTION_SCHEDULE_NAME = "proxy: prune request logs by retention"
RETENTION_TASK = "proxy.tasks.prune_logs_by_retention"


def prune_logs_by_retention() -> dict[str, int]:
    deleted = logs_prune_by_retention()
    log.info("retention: deleted request logs %s", deleted)
    return deleted
