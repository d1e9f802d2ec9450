"""Rollups of the request log: per minute, hour and day, by namespace, key, model, provider.

The analytics API and the dashboard read these, never the raw log, so a chart's
cost depends on the number of buckets, not on the number of requests. Latency is
kept as a histogram over fixed bounds (`LATENCY_BOUNDS_MS`), so percentiles of any
range are computed by adding histograms.
"""

from __future__ import annotations

from django.db import models

# Upper bounds (ms) of the latency histogram buckets; the last bucket is open.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000,
    1500, 2000, 3000, 5000, 7500, 10000, 20000, 30000, 60000, 120000,
)  # fmt: skip


class Rollup(models.Model):
    bucket = models.DateTimeField(help_text="Start of the minute, hour or day (UTC).")
    namespace_id = models.BigIntegerField(null=True, blank=True)
    api_key_id = models.BigIntegerField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=64, blank=True)
    requests = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0, help_text="Status 400 or more.")
    streams = models.PositiveIntegerField(default=0)
    truncated = models.PositiveIntegerField(default=0, help_text="finish_reason = length.")
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    latency_ms_sum = models.FloatField(default=0)
    overhead_ms_sum = models.FloatField(default=0)
    latency_histogram = models.JSONField(default=list)

    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ["bucket"]

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.model} ×{self.requests}"


class MinuteRollup(Rollup):
    class Meta(Rollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_min_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_min_ns_bucket"),
        ]


class HourRollup(Rollup):
    class Meta(Rollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_hour_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_hour_ns_bucket"),
        ]


class DayRollup(Rollup):
    class Meta(Rollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_day_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_day_ns_bucket"),
        ]


GRANULARITIES: dict[str, tuple[type[Rollup], int]] = {
    "minute": (MinuteRollup, 60),
    "hour": (HourRollup, 3600),
    "day": (DayRollup, 86400),
}


class RollupWatermark(models.Model):
    """Up to when the minute rollups are complete; the job resumes from here."""

    name = models.CharField(max_length=32, unique=True)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.until:%Y-%m-%d %H:%M}"
