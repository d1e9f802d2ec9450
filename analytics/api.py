"""/api/analytics/: time series, breakdowns, summaries, insights and CSV, from the rollups.

Session authentication (the dashboard's own login). Staff see every namespace; a
namespace viewer sees only the namespaces they are a member of.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from ninja.security import django_auth

from analytics import insights as insight_finders
from analytics import selectors
from analytics.schemas import Breakdown, Insights, Summary, TimeSeries
from dashboard.selectors import user_can_view_dashboard, visible_namespace_ids

router = Router(tags=["analytics"], auth=django_auth)

RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


class Window(Schema):
    range: Literal["1h", "6h", "24h", "7d", "30d", "90d"] = "24h"
    start: datetime | None = None
    end: datetime | None = None
    namespace_id: int | None = None
    api_key_id: int | None = None
    model: str = ""
    provider: str = ""

    def bounds(self) -> tuple[datetime, datetime]:
        end = self.end or timezone.now()
        start = self.start or end - RANGES[self.range]
        if start >= end:
            raise HttpError(400, "start must be before end")
        if end - start > timedelta(days=366):
            raise HttpError(400, "a window is at most 366 days")
        return start, end

    def filters(self) -> selectors.Filters:
        return selectors.Filters(self.namespace_id, self.api_key_id, self.model, self.provider)


def _scope(request: HttpRequest, window: Window) -> selectors.Scope:
    user = request.user
    if not user_can_view_dashboard(user):
        raise HttpError(403, "This account may not view analytics.")
    scope = visible_namespace_ids(user)
    if scope is not None and window.namespace_id is not None and window.namespace_id not in scope:
        raise HttpError(403, "This namespace is not yours to view.")
    return scope


@router.get("/timeseries", response=TimeSeries)
def timeseries(
    request: HttpRequest,
    window: Query[Window],
    granularity: Literal["", "minute", "hour", "day"] = "",
) -> dict[str, Any]:
    scope = _scope(request, window)
    start, end = window.bounds()
    chosen, points = selectors.timeseries(scope, start, end, granularity, window.filters())
    return {"start": start, "end": end, "granularity": chosen, "points": points}


@router.get("/breakdown", response=Breakdown)
def breakdown(
    request: HttpRequest,
    window: Query[Window],
    by: Literal["namespace", "key", "model", "provider"] = "model",
) -> dict[str, Any]:
    scope = _scope(request, window)
    start, end = window.bounds()
    groups = selectors.breakdown(scope, start, end, by, window.filters())
    labels = selectors.labels_for(by, [g["key"] for g in groups])
    for group in groups:
        group["label"] = labels.get(group["key"], str(group["key"] or "—"))
    return {"start": start, "end": end, "by": by, "groups": groups}


@router.get("/summary", response=Summary)
def summary(request: HttpRequest, window: Query[Window]) -> dict[str, Any]:
    scope = _scope(request, window)
    start, end = window.bounds()
    return {"start": start, "end": end, **selectors.summary(scope, start, end, window.filters())}


@router.get("/insights", response=Insights)
def insights(request: HttpRequest, window: Query[Window]) -> dict[str, Any]:
    scope = _scope(request, window)
    start, end = window.bounds()
    found = insight_finders.insights(scope, start, end, window.filters())
    return {"start": start, "end": end, "insights": [i.as_dict() for i in found]}


@router.get("/timeseries.csv", response={200: None})
def timeseries_csv(
    request: HttpRequest,
    window: Query[Window],
    granularity: Literal["", "minute", "hour", "day"] = "",
) -> HttpResponse:
    """The time series as CSV (one row per bucket)."""
    scope = _scope(request, window)
    start, end = window.bounds()
    chosen, points = selectors.timeseries(scope, start, end, granularity, window.filters())
    response = HttpResponse(content_type="text/csv")
    response["content-disposition"] = (
        f'attachment; filename="llmproxy-{chosen}-{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}.csv"'
    )
    columns = list(points[0].keys()) if points else ["t"]
    writer = csv.DictWriter(response, fieldnames=columns)
    writer.writeheader()
    for point in points:
        writer.writerow({**point, "t": point["t"].isoformat()})
    return response
