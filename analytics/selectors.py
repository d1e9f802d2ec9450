"""Reads over the rollups: time series, breakdowns, summaries. Namespace-scoped.

`scope` is None for staff (every namespace) or the set of namespace ids a viewer
may see. Ranges pick the granularity: up to 6 hours by minute, up to 7 days by
hour, beyond by day (or as asked). Questions pick the level (`analytics.models.LEVELS`):
the coarsest one that has the dimensions asked for, so a chart of totals sums one
row per namespace and bucket, not one per key and model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from analytics.models import GRANULARITIES, HISTOGRAM_FIELDS, LATENCY_BOUNDS_MS, LEVELS, Totals
from analytics.services import MEASURES, SUMMED_FIELDS, floor_time

Scope = frozenset[int] | None

BREAKDOWNS = {"namespace": "namespace_id", "key": "api_key_id", "model": "model", "provider": "provider"}  # fmt: skip


@dataclass(frozen=True)
class Filters:
    namespace_id: int | None = None
    api_key_id: int | None = None
    model: str = ""
    provider: str = ""


def pick_granularity(start: datetime, end: datetime, asked: str = "") -> str:
    if asked in GRANULARITIES:
        return asked
    span = end - start
    if span <= timedelta(hours=6):
        return "minute"
    if span <= timedelta(days=7):
        return "hour"
    return "day"


def level_for(filters: Filters, by: str = "") -> str:
    """The coarsest rollup level with every dimension a question groups or filters by."""
    if by == "key" or filters.api_key_id is not None:
        return "key"
    if by in ("model", "provider") or filters.model or filters.provider:
        return "model"
    return "namespace"


def rollups(
    scope: Scope,
    start: datetime,
    end: datetime,
    granularity: str,
    filters: Filters | None = None,
    by: str = "",
) -> QuerySet[Any]:
    filters = filters or Filters()
    model: type[Totals] = LEVELS[level_for(filters, by)][1][granularity]
    rows: QuerySet[Any] = model.objects.filter(
        bucket__gte=floor_time(start, granularity), bucket__lt=end
    ).order_by()
    if scope is not None:
        rows = rows.filter(namespace_id__in=scope)
    if filters.namespace_id is not None:
        rows = rows.filter(namespace_id=filters.namespace_id)
    if filters.api_key_id is not None:
        rows = rows.filter(api_key_id=filters.api_key_id)
    if filters.model:
        rows = rows.filter(model=filters.model)
    if filters.provider:
        rows = rows.filter(provider=filters.provider)
    return rows


def percentile(histogram: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of a latency histogram, interpolated inside its bucket."""
    total = sum(histogram)
    if not total:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for index, count in enumerate(histogram):
        upper = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else None
        if count and seen + count >= rank:
            if upper is None:
                return lower
            return round(lower + (upper - lower) * (rank - seen) / count, 1)
        seen += count
        lower = upper if upper is not None else lower
    return lower


def _point(values: dict[str, Any], histogram: list[int]) -> dict[str, Any]:
    requests = values.get("requests") or 0
    cost = values.get("cost_usd") or Decimal(0)
    return {
        "requests": requests,
        "errors": values.get("errors") or 0,
        "error_rate": round((values.get("errors") or 0) / requests, 4) if requests else 0.0,
        "streams": values.get("streams") or 0,
        "truncated": values.get("truncated") or 0,
        "prompt_tokens": values.get("prompt_tokens") or 0,
        "completion_tokens": values.get("completion_tokens") or 0,
        "cached_tokens": values.get("cached_tokens") or 0,
        "cost_usd": float(cost),
        "latency_avg_ms": round((values.get("latency_ms_sum") or 0) / requests, 1)
        if requests
        else None,
        "overhead_avg_ms": round((values.get("overhead_ms_sum") or 0) / requests, 3)
        if requests
        else None,
        "latency_p50_ms": percentile(histogram, 0.50),
        "latency_p95_ms": percentile(histogram, 0.95),
        "latency_p99_ms": percentile(histogram, 0.99),
    }


def _sums() -> dict[str, Any]:
    return {f"sum_{name}": Sum(name) for name in SUMMED_FIELDS}


def _values(row: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Measures and histogram of one aggregated row (`sum_` names)."""
    values = {m: row.get(f"sum_{m}") or 0 for m in MEASURES}
    return values, [row.get(f"sum_{h}") or 0 for h in HISTOGRAM_FIELDS]


def timeseries(
    scope: Scope,
    start: datetime,
    end: datetime,
    granularity: str = "",
    filters: Filters | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """One point per bucket in [start, end), empty buckets included."""
    granularity = pick_granularity(start, end, granularity)
    rows = rollups(scope, start, end, granularity, filters).values("bucket").annotate(**_sums())
    buckets = {row["bucket"]: _values(row) for row in rows}
    step = timedelta(seconds=GRANULARITIES[granularity][1])
    points = []
    cursor = floor_time(start, granularity)
    while cursor < end:
        values, histogram = buckets.get(cursor, ({}, []))
        points.append({"t": cursor, **_point(values, histogram)})
        cursor += step
    return granularity, points


def breakdown(
    scope: Scope,
    start: datetime,
    end: datetime,
    by: str,
    filters: Filters | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Totals per namespace, key, model or provider, largest first."""
    field = BREAKDOWNS[by]
    granularity = pick_granularity(start, end)
    rows = (
        rollups(scope, start, end, granularity, filters, by)
        .values(field)
        .annotate(**_sums())
        .order_by("-sum_requests", field)[:limit]
    )
    return [{"key": row[field], **_point(*_values(row))} for row in rows]


def summary(
    scope: Scope, start: datetime, end: datetime, filters: Filters | None = None
) -> dict[str, Any]:
    granularity = pick_granularity(start, end)
    totals = rollups(scope, start, end, granularity, filters).aggregate(**_sums())
    return _point(*_values(totals))


def labels_for(by: str, keys: list[Any]) -> dict[Any, str]:
    """Display names for breakdown keys (namespace and key ids become names)."""
    from proxy.models import ApiKey, Namespace

    ids = [k for k in keys if k is not None]
    if by == "namespace":
        return dict(Namespace.objects.filter(id__in=ids).values_list("id", "name"))
    if by == "key":
        return {
            key.id: f"{key.namespace.name}/{key.name}"
            for key in ApiKey.objects.filter(id__in=ids).select_related("namespace")
        }
    return {k: str(k) for k in ids if k != ""}
