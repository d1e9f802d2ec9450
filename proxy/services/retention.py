"""Retention: delete old request logs in primary-key batches, never in one giant DELETE.

Each batch selects at most `LOG_PRUNE_BATCH` ids through the `created_at`
(or `namespace, created_at`) index and deletes those rows and their bodies in
one short transaction, so a prune over ten million rows holds no long lock and
can be interrupted at any point without harm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from proxy.models import Namespace, RequestLog


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    batches: int


def logs_prune(
    *,
    older_than: timedelta,
    namespace: Namespace | None = None,
    without_namespace: bool = False,
    batch_size: int | None = None,
) -> PruneResult:
    """Delete request logs (and their bodies) created before now minus `older_than`."""
    batch_size = batch_size or settings.LOG_PRUNE_BATCH
    old = RequestLog.objects.filter(created_at__lt=timezone.now() - older_than)
    if namespace is not None:
        old = old.filter(namespace=namespace)
    elif without_namespace:
        old = old.filter(namespace__isnull=True)
    deleted = batches = 0
    while True:
        ids = list(old.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return PruneResult(deleted, batches)
        with transaction.atomic():
            RequestLog.objects.filter(pk__in=ids).delete()  # bodies go with them (CASCADE)
        deleted += len(ids)
        batches += 1


def logs_prune_by_retention() -> dict[str, int]:
    """Apply every namespace's `log_retention_days` (0 keeps); `LOG_RETENTION_DAYS`
    applies to records without a namespace (requests refused before authentication)."""
    deleted: dict[str, int] = {}
    for namespace in Namespace.objects.filter(log_retention_days__gt=0):
        result = logs_prune(
            older_than=timedelta(days=namespace.log_retention_days), namespace=namespace
        )
        deleted[namespace.name] = result.deleted
    if settings.LOG_RETENTION_DAYS > 0:
        result = logs_prune(
            older_than=timedelta(days=settings.LOG_RETENTION_DAYS), without_namespace=True
        )
        deleted[""] = result.deleted
    return deleted
