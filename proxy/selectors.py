"""Reads for the admin and for seeding the shared counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum

SCOPE_FIELDS = {"key": "api_key_id", "namespace": "namespace_id"}


def period_start(period: str, now: datetime) -> datetime:
    """The start of the budget period that contains `now` (UTC)."""
    now = now.astimezone(UTC)
    if period == "day":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return datetime(1970, 1, 1, tzinfo=UTC)


def period_end(period: str, now: datetime) -> datetime | None:
    start = period_start(period, now)
    if period == "day":
        return start + timedelta(days=1)
    if period == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return None


def spend_since(scope: str, scope_id: int, start: datetime) -> Decimal:
    """What a key or namespace spent since `start`, from the request log (synchronous ORM)."""
    from proxy.models import RequestLog

    total = RequestLog.objects.filter(
        **{SCOPE_FIELDS[scope]: scope_id, "created_at__gte": start}
    ).aggregate(total=Sum("cost_usd"))["total"]
    return total or Decimal(0)


def spend_against_budget(scope: str, row: Any) -> str:
    """ "$1.234567 of $10 (month)" for a key or namespace row with a budget; "" without."""
    if row.budget_usd is None:
        return ""
    start = period_start(row.budget_period, datetime.now(UTC))
    spent = spend_since(scope, row.pk, start)
    share = f" ({spent / row.budget_usd:.0%})" if row.budget_usd else ""
    budget = f"{row.budget_usd.normalize():f}"
    return f"${spent:.6f} of ${budget} ({row.budget_period}){share}"
