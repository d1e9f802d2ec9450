"""Pattern statistics: hourly rows recomputed from the insights, then all-time summaries.

Every hour touched is recomputed whole from its requests, so running a rollup
twice (or in two workers) gives the same rows: it is idempotent by construction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, Sum
from django.utils import timezone

from intelligence.models import Pattern, PatternStat, RequestInsight

COUNTERS = (
    "requests",
    "successes",
    "errors",
    "truncations",
    "refusals",
    "invalid_json",
    "retries",
    "feedback_count",
)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _accumulate(insight: RequestInsight, row: dict[str, Any]) -> None:
    log = insight.log
    row["requests"] += 1
    row["successes"] += int(insight.succeeded)
    row["errors"] += int(insight.errored)
    row["truncations"] += int(insight.truncated)
    row["refusals"] += int(insight.refused)
    row["invalid_json"] += int(insight.json_valid is False)
    row["retries"] += int(insight.retried)
    if insight.feedback_score is not None:
        row["feedback_count"] += 1
        row["feedback_sum"] += insight.feedback_score
    row["latency_ms_sum"] += log.latency_ms or 0.0
    row["prompt_tokens"] += log.prompt_tokens or 0
    row["completion_tokens"] += log.completion_tokens or 0
    row["cost_usd"] += log.cost_usd or Decimal(0)


def _empty() -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
    row.update(
        feedback_sum=0.0,
        latency_ms_sum=0.0,
        prompt_tokens=0,
        completion_tokens=0,
        cost_usd=Decimal(0),
    )
    return row


def rollup_hours(pattern_ids: set[int] | None, hours: set[datetime]) -> int:
    """Recompute the given hours (for the given patterns, or all). Returns rows written."""
    written = 0
    for hour in sorted(hours):
        insights = RequestInsight.objects.filter(
            created_at__gte=hour, created_at__lt=hour + timedelta(hours=1), pattern__isnull=False
        ).select_related("log")
        if pattern_ids is not None:
            insights = insights.filter(pattern_id__in=pattern_ids)
        rows: dict[int, dict[str, Any]] = defaultdict(_empty)
        # streamed: an hour of traffic held in memory at once made the q cluster's
        # worker grow with the hour's requests (the soak, bench/RESULTS.md)
        for insight in insights.iterator(chunk_size=2000):
            assert insight.pattern_id is not None
            _accumulate(insight, rows[insight.pattern_id])
        with transaction.atomic():
            stale = PatternStat.objects.filter(hour=hour)
            if pattern_ids is not None:
                stale = stale.filter(pattern_id__in=pattern_ids)
            stale.exclude(pattern_id__in=list(rows)).delete()
            for pattern_id, values in rows.items():
                PatternStat.objects.update_or_create(
                    pattern_id=pattern_id, hour=hour, defaults=values
                )
                written += 1
    summarize(pattern_ids)
    return written


def rollup_pattern_hour(pattern_id: int, moment: datetime) -> int:
    return rollup_hours({pattern_id}, {hour_of(moment)})


def rollup(*, since: datetime | None = None) -> int:
    """The scheduled rollup: every hour with requests since `since` (default: 2 hours ago)."""
    since = since or timezone.now() - timedelta(hours=2)
    moments = RequestInsight.objects.filter(created_at__gte=hour_of(since)).values_list(
        "created_at", flat=True
    )
    hours = {hour_of(m) for m in moments.iterator(chunk_size=2000)}
    return rollup_hours(None, hours)


def summarize(pattern_ids: set[int] | None = None) -> None:
    """All-time numbers on each pattern, from its hourly rows; trend from the last 48 h."""
    stats = PatternStat.objects.all()
    if pattern_ids is not None:
        stats = stats.filter(pattern_id__in=pattern_ids)
    totals = stats.values("pattern_id").annotate(
        n=Sum("requests"),
        ok=Sum("successes"),
        err=Sum("errors"),
        trunc=Sum("truncations"),
        refused=Sum("refusals"),
        fb_n=Sum("feedback_count"),
        fb_sum=Sum("feedback_sum"),
        latency=Sum("latency_ms_sum"),
        tokens=Sum(F("prompt_tokens") + F("completion_tokens")),
        cost=Sum("cost_usd"),
        last=Max("hour"),
        hours=Count("id"),
    )
    now = hour_of(timezone.now())
    recent: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in stats.filter(hour__gte=now - timedelta(hours=47)).values(
        "pattern_id", "hour", "requests"
    ):
        recent[row["pattern_id"]][0 if row["hour"] > now - timedelta(hours=24) else 1] += row[
            "requests"
        ]
    for total in totals:
        n = total["n"] or 0
        last_day, day_before = recent[total["pattern_id"]]
        Pattern.objects.filter(pk=total["pattern_id"]).update(
            requests=n,
            success_rate=total["ok"] / n if n else None,
            error_rate=total["err"] / n if n else None,
            truncation_rate=total["trunc"] / n if n else None,
            refusal_rate=total["refused"] / n if n else None,
            feedback_score=total["fb_sum"] / total["fb_n"] if total["fb_n"] else None,
            avg_latency_ms=total["latency"] / n if n else None,
            avg_tokens=(total["tokens"] or 0) / n if n else None,
            cost_usd=total["cost"] or 0,
            trend=(last_day / day_before) if day_before else None,
        )
