"""Keeping the rollups: minutes from the request log, hours from minutes, days from hours.

Every function recomputes whole buckets of a window (delete, then insert in one
transaction), so running it twice gives the same rows: the django-q2 schedule and
a manual rebuild (`manage.py rollup_rebuild`) can overlap safely. Level "key" is
written first; levels "model" and "namespace" are derived from it for the same
buckets (`analytics.models.LEVELS`). Writes are set-based: the ORM builds the
aggregate SELECT and the database inserts its rows (`INSERT ... SELECT`), so a
rebuild over ten million log rows never brings a row into Python.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from analytics.models import (
    GRANULARITIES,
    HISTOGRAM_FIELDS,
    LATENCY_BOUNDS_MS,
    LEVELS,
    HourRollup,
    MinuteRollup,
    RollupWatermark,
    Totals,
)
from proxy.models import RequestLog

DIMENSIONS = ("namespace_id", "api_key_id", "model", "provider")
MEASURES = (
    "requests",
    "errors",
    "streams",
    "truncated",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_usd",
    "latency_ms_sum",
    "overhead_ms_sum",
)
SUMMED_FIELDS = (*MEASURES, *HISTOGRAM_FIELDS)


def floor_time(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC)
    if granularity == "minute":
        return moment.replace(second=0, microsecond=0)
    if granularity == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_time(moment: datetime, granularity: str) -> datetime:
    floor = floor_time(moment, granularity)
    if floor == moment:
        return floor
    return floor + timedelta(seconds=GRANULARITIES[granularity][1])


def _histogram_aggregates() -> dict[str, Any]:
    aggregates: dict[str, Any] = {}
    lower = 0.0
    for name, upper in zip(HISTOGRAM_FIELDS, LATENCY_BOUNDS_MS, strict=False):
        aggregates[name] = Count("id", filter=Q(latency_ms__gte=lower, latency_ms__lt=upper))
        lower = upper
    aggregates[HISTOGRAM_FIELDS[-1]] = Count("id", filter=Q(latency_ms__gte=lower))
    return aggregates


def rollup_minutes(*, since: datetime, until: datetime) -> int:
    """Recompute the minute rollups of [since, until) from the request log."""
    return rollup_from_log("minute", since=since, until=until)


def rollup_from_log(granularity: str, *, since: datetime, until: datetime) -> int:
    """Recompute the rollups of one granularity over [since, until) from the request log."""
    since, until = floor_time(since, granularity), _ceil_time(until, granularity)
    rows = (
        RequestLog.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(
            b=Trunc("created_at", granularity, tzinfo=UTC),
            m=Coalesce(
                Case(
                    When(resolved_model="", then=F("requested_model")), default=F("resolved_model")
                ),
                Value(""),
            ),
            p=Coalesce(F("provider"), Value("")),
        )
        .values("b", "namespace_id", "api_key_id", "m", "p")
        .annotate(
            n=Count("id"),
            err=Count("id", filter=Q(status_code__gte=400)),
            st=Count("id", filter=Q(stream=True)),
            cut=Count("id", filter=Q(finish_reason="length")),
            pt=Coalesce(Sum("prompt_tokens"), 0),
            ct=Coalesce(Sum("completion_tokens"), 0),
            cached=Coalesce(Sum("cached_tokens"), 0),
            cost=Coalesce(Sum("cost_usd"), Value(Decimal(0)), output_field=DecimalField()),
            lat=Coalesce(Sum("latency_ms"), 0.0),
            ovh=Coalesce(Sum("overhead_ms"), 0.0),
            **_histogram_aggregates(),
        )
        .order_by()
    )
    columns = {
        "bucket": "b", "namespace_id": "namespace_id", "api_key_id": "api_key_id", "model": "m",
        "provider": "p", "requests": "n", "errors": "err", "streams": "st", "truncated": "cut",
        "prompt_tokens": "pt", "completion_tokens": "ct", "cached_tokens": "cached",
        "cost_usd": "cost", "latency_ms_sum": "lat", "overhead_ms_sum": "ovh",
        **{name: name for name in HISTOGRAM_FIELDS},
    }  # fmt: skip
    with transaction.atomic():
        count = _replace(LEVELS["key"][1][granularity], since, until, rows, columns)
        _derive_coarser_levels(granularity, since, until)
    return count


def rollup_coarser(granularity: str, *, since: datetime, until: datetime) -> int:
    """Recompute hour rollups from minutes, or day rollups from hours, for [since, until)."""
    source: type[Totals] = MinuteRollup if granularity == "hour" else HourRollup
    since, until = floor_time(since, granularity), _ceil_time(until, granularity)
    rows = (
        source.objects.filter(bucket__gte=since, bucket__lt=until)
        .annotate(b=Trunc("bucket", granularity, tzinfo=UTC))
        .values("b", *DIMENSIONS)
        .annotate(**{f"sum_{name}": Sum(name) for name in SUMMED_FIELDS})
        .order_by()
    )
    columns = {"bucket": "b", **{d: d for d in DIMENSIONS}}
    columns.update({name: f"sum_{name}" for name in SUMMED_FIELDS})
    with transaction.atomic():
        count = _replace(LEVELS["key"][1][granularity], since, until, rows, columns)
        _derive_coarser_levels(granularity, since, until)
    return count


def _derive_coarser_levels(granularity: str, since: datetime, until: datetime) -> None:
    """Level "model" from level "key", level "namespace" from "model", same buckets."""
    finer = "key"
    for level in ("model", "namespace"):
        dimensions, tables = LEVELS[level]
        rows = (
            LEVELS[finer][1][granularity]
            .objects.filter(bucket__gte=since, bucket__lt=until)
            .values("bucket", *dimensions)
            .annotate(**{f"sum_{name}": Sum(name) for name in SUMMED_FIELDS})
            .order_by()
        )
        columns = {"bucket": "bucket", **{d: d for d in dimensions}}
        columns.update({name: f"sum_{name}" for name in SUMMED_FIELDS})
        _replace(tables[granularity], since, until, rows, columns)
        finer = level


def _replace(
    model: type[Totals],
    since: datetime,
    until: datetime,
    rows: QuerySet[Any],
    columns: dict[str, str],
) -> int:
    """Delete the window's rows of `model`, then INSERT ... SELECT the aggregate `rows`.

    Set-based: the database aggregates and inserts in one statement, no row comes
    back to Python. `columns` maps each target column to its alias in `rows`.
    """
    model.objects.filter(bucket__gte=since, bucket__lt=until).delete()
    select, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {', '.join('s.' + quote(a) for a in columns.values())} FROM ({select}) s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def rollup_rebuild(*, since: datetime, until: datetime) -> dict[str, int]:
    """Recompute every granularity over a window (backfill, late or replayed records).

    Hours come straight from the log a day at a time (small transactions); minutes
    only for the part of the window that minute rollups are kept for.
    """
    counts = {"minute": 0, "hour": 0, "day": 0}
    cursor = floor_time(since, "hour")
    while cursor < until:
        end = min(cursor + timedelta(days=1), _ceil_time(until, "hour"))
        counts["hour"] += rollup_from_log("hour", since=cursor, until=end)
        cursor = end
    kept = timezone.now() - timedelta(hours=settings.ANALYTICS_MINUTE_RETENTION_HOURS)
    if until > kept:
        counts["minute"] = rollup_minutes(since=max(since, floor_time(kept, "hour")), until=until)
    counts["day"] = rollup_coarser("day", since=since, until=until)
    if connection.vendor == "postgresql":  # fresh statistics after a bulk rewrite
        with connection.cursor() as statements:
            for _, tables in LEVELS.values():
                for table in tables.values():
                    statements.execute(f"ANALYZE {connection.ops.quote_name(table._meta.db_table)}")
    return counts


def rollup_recent(now: datetime | None = None) -> dict[str, int]:
    """The scheduled job: bring every rollup up to date, then prune old minute rows.

    Resumes from the watermark (minus a margin for records the log writer stored
    late), so a worker that was down catches up on its next run.
    """
    now = now or timezone.now()
    margin = timedelta(seconds=settings.ANALYTICS_LATE_SECONDS)
    watermark = RollupWatermark.objects.filter(name="minute").first()
    oldest = now - timedelta(hours=settings.ANALYTICS_MINUTE_RETENTION_HOURS)
    since = max(oldest, (watermark.until if watermark else now - timedelta(hours=1)) - margin)
    counts = {"minute": rollup_minutes(since=since, until=now)}
    counts["hour"] = rollup_coarser("hour", since=since, until=now)
    counts["day"] = rollup_coarser("day", since=since, until=now)
    RollupWatermark.objects.update_or_create(name="minute", defaults={"until": now})
    for level in LEVELS.values():
        level[1]["minute"].objects.filter(bucket__lt=floor_time(oldest, "hour")).delete()
    return counts


def schedules_ensure() -> None:
    """Declare the django-q2 schedules in code (idempotent: matched by name)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="analytics.rollup_recent",
        defaults={
            "func": "analytics.tasks.rollup_recent_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
