from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import BaseModel


class Point(BaseModel):
    """Plain pydantic, not ninja's `Schema`: the selectors hand over dicts, and `Schema`
    wraps every item in an ORM attribute getter, which took over a third of the time
    of a 720-point answer."""

    requests: int
    errors: int
    error_rate: float
    streams: int
    truncated: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_avg_ms: float | None
    overhead_avg_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


class TimePoint(Point):
    t: datetime


class TimeSeries(Schema):
    start: datetime
    end: datetime
    granularity: str
    points: list[TimePoint]


class Group(Point):
    key: str | int | None
    label: str


class Breakdown(Schema):
    start: datetime
    end: datetime
    by: str
    groups: list[Group]


class Summary(Point):
    start: datetime
    end: datetime


class Insight(Schema):
    kind: str
    severity: str
    text: str
    data: dict[str, object]


class Insights(Schema):
    start: datetime
    end: datetime
    insights: list[Insight]
