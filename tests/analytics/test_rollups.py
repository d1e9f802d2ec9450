"""Rollups: minutes from the log, hours from minutes, days from hours; idempotent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, Sum

from analytics.models import DayRollup, HourRollup, MinuteRollup
from analytics.services import rollup_coarser, rollup_minutes, rollup_rebuild, rollup_recent
from tests.analytics.conftest import log

pytestmark = pytest.mark.django_db


def test_it_sums_a_minute_of_requests_per_model(now: Any) -> None:
    log(created_at=now, latency_ms=80)
    log(created_at=now + timedelta(seconds=30), latency_ms=300, status_code=502)
    log(created_at=now, requested_model="mini", resolved_model="", finish_reason="length")
    rollup_minutes(since=now, until=now + timedelta(minutes=1))
    rows = {r.model: r for r in MinuteRollup.objects.all()}
    assert set(rows) == {"gpt-4o", "mini"}  # an unresolved model counts under its request
    big = rows["gpt-4o"]
    assert (big.requests, big.errors, big.prompt_tokens, big.completion_tokens) == (2, 1, 20, 40)
    assert big.cost_usd == Decimal("0.002")
    assert big.latency_ms_sum == 380
    assert sum(big.latency_histogram) == 2
    assert rows["mini"].truncated == 1


def test_running_it_twice_gives_the_same_rows(now: Any) -> None:
    log(created_at=now)
    rollup_minutes(since=now, until=now + timedelta(minutes=1))
    rollup_minutes(since=now, until=now + timedelta(minutes=1))
    assert MinuteRollup.objects.get().requests == 1


def test_hours_and_days_add_up_the_minutes(now: Any) -> None:
    for minute in range(5):
        log(created_at=now + timedelta(minutes=minute), latency_ms=10 * (minute + 1))
    rollup_minutes(since=now, until=now + timedelta(minutes=5))
    rollup_coarser("hour", since=now, until=now + timedelta(minutes=5))
    rollup_coarser("day", since=now, until=now + timedelta(minutes=5))
    hour = HourRollup.objects.get()
    day = DayRollup.objects.get()
    assert hour.bucket == now.replace(minute=0)
    assert hour.requests == day.requests == 5
    assert hour.latency_ms_sum == 150
    assert hour.latency_histogram == day.latency_histogram
    assert sum(day.latency_histogram) == 5


def test_a_rebuild_covers_days_past_minute_retention(now: Any) -> None:
    old = now - timedelta(days=10)
    log(created_at=old)
    log(created_at=old + timedelta(hours=3))
    counts = rollup_rebuild(since=old - timedelta(hours=1), until=old + timedelta(hours=4))
    assert counts["hour"] == 2
    assert DayRollup.objects.get().requests == 2
    assert not MinuteRollup.objects.exists()  # minutes are not kept that far back


def test_the_scheduled_job_catches_up_from_its_watermark(now: Any, settings: Any) -> None:
    settings.ANALYTICS_LATE_SECONDS = 60
    log(created_at=now - timedelta(minutes=50))
    first = rollup_recent(now - timedelta(minutes=40))
    assert first["minute"] == 1
    log(created_at=now - timedelta(minutes=20))  # stored after the first run
    rollup_recent(now)
    assert MinuteRollup.objects.count() == 2
    assert sum(HourRollup.objects.values_list("requests", flat=True)) == 2


def test_the_schedule_is_declared_once() -> None:
    from django_q.models import Schedule

    from analytics.services import schedules_ensure

    schedules_ensure()
    schedules_ensure()
    schedule = Schedule.objects.get(name="analytics.rollup_recent")
    assert schedule.func == "analytics.tasks.rollup_recent_task"
    assert schedule.minutes == 1


def test_the_rebuild_command_and_the_task_fill_the_rollups(now: Any) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from analytics.tasks import rollup_recent_task

    log(created_at=timezone.now() - timedelta(minutes=5))
    call_command("rollup_rebuild", days=1)
    assert sum(HourRollup.objects.values_list("requests", flat=True)) == 1
    assert rollup_recent_task()["minute"] == 1


def _seeded_days(now: Any) -> tuple[Any, Any]:
    """Two whole days of seeded traffic, rolled up; returns the window."""
    from analytics.seeding import seed_keys, seed_logs

    end = now.replace(hour=0, minute=0)
    start, end = seed_logs(rows=1200, days=2, end=end, keys=seed_keys(3, 2), bodies=0)
    rollup_rebuild(since=start, until=end)
    return start, end


RAW = {"requests": Count("id"), "prompt_tokens": Sum("prompt_tokens"), "cost_usd": Sum("cost_usd")}


def test_every_level_and_granularity_adds_up_to_the_raw_log(now: Any) -> None:
    from analytics.models import LEVELS
    from proxy.models import RequestLog

    _seeded_days(now)
    raw = {
        row["namespace_id"]: row
        for row in RequestLog.objects.values("namespace_id").annotate(**RAW).order_by()
    }
    for level, (_, tables) in LEVELS.items():
        for granularity in ("hour", "day"):
            kept = {
                row["namespace_id"]: row
                for row in tables[granularity]
                .objects.values("namespace_id")
                .annotate(**{m: Sum(m) for m in RAW})
                .order_by()
            }
            assert set(kept) == set(raw), (level, granularity)
            for namespace, row in raw.items():
                assert kept[namespace]["requests"] == row["requests"], (level, granularity)
                assert kept[namespace]["prompt_tokens"] == row["prompt_tokens"]
                assert kept[namespace]["cost_usd"] == row["cost_usd"]


def test_the_selectors_answer_as_the_raw_log_does_at_every_level(now: Any) -> None:
    from analytics.selectors import Filters, breakdown, summary, timeseries
    from proxy.models import RequestLog

    start, end = _seeded_days(now)
    key = RequestLog.objects.values_list("api_key_id", flat=True).first()
    logs = RequestLog.objects.filter(created_at__gte=start, created_at__lt=end)
    for filters, rows in [
        (Filters(), logs),
        (Filters(model="gpt-4o"), logs.filter(requested_model="gpt-4o")),
        (Filters(provider="anthropic"), logs.filter(provider="anthropic")),
        (Filters(api_key_id=key), logs.filter(api_key_id=key)),
    ]:
        expected = rows.aggregate(**RAW)
        got = summary(None, start, end, filters)
        assert got["requests"] == expected["requests"], filters
        assert got["prompt_tokens"] == expected["prompt_tokens"], filters
        _, points = timeseries(None, start, end, "hour", filters)
        assert sum(p["requests"] for p in points) == expected["requests"], filters
    by_model = {g["key"]: g["requests"] for g in breakdown(None, start, end, "model")}
    raw_by_model = dict(logs.values_list("resolved_model").annotate(n=Count("id")).order_by())
    assert by_model == raw_by_model


def test_charts_of_totals_read_the_namespace_level(now: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.selectors import Filters, breakdown, timeseries

    start, end = _seeded_days(now)
    with CaptureQueriesContext(connection) as queries:
        timeseries(None, start, end, "hour")
        breakdown(None, start, end, "namespace")
    assert all("analytics_namespacehourrollup" in q["sql"] for q in queries.captured_queries)
    with CaptureQueriesContext(connection) as queries:
        breakdown(None, start, end, "model")
        timeseries(None, start, end, "hour", Filters(provider="openai"))
    assert all("analytics_modelhourrollup" in q["sql"] for q in queries.captured_queries)
