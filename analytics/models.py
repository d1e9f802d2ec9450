"""Rollups of the request log: per minute, hour and day, by namespace, key, model, provider.

The analytics API and the dashboard read these, never the raw log, so a chart's
cost depends on the number of buckets, not on the number of requests. Latency is
kept as a histogram over fixed bounds (`LATENCY_BOUNDS_MS`, one column per bucket),
so percentiles of any range are computed from summed histograms.
"""

from __future__ import annotations

from django.db import models

# Upper bounds (ms) of the latency histogram buckets; the last bucket is open.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000,
    1500, 2000, 3000, 5000, 7500, 10000, 20000, 30000, 60000, 120000,
)  # fmt: skip
HISTOGRAM_FIELDS: tuple[str, ...] = tuple(f"h{i:02d}" for i in range(len(LATENCY_BOUNDS_MS) + 1))


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
    # Latency histogram: h00 counts requests under LATENCY_BOUNDS_MS[0], h01 those from
    # bound 0 to bound 1, …, h22 those over the last bound. Columns, not JSON, so that
    # the database adds histograms up in the same GROUP BY as every other measure.
    h00 = models.PositiveIntegerField(default=0)
    h01 = models.PositiveIntegerField(default=0)
    h02 = models.PositiveIntegerField(default=0)
    h03 = models.PositiveIntegerField(default=0)
    h04 = models.PositiveIntegerField(default=0)
    h05 = models.PositiveIntegerField(default=0)
    h06 = models.PositiveIntegerField(default=0)
    h07 = models.PositiveIntegerField(default=0)
    h08 = models.PositiveIntegerField(default=0)
    h09 = models.PositiveIntegerField(default=0)
    h10 = models.PositiveIntegerField(default=0)
    h11 = models.PositiveIntegerField(default=0)
    h12 = models.PositiveIntegerField(default=0)
    h13 = models.PositiveIntegerField(default=0)
    h14 = models.PositiveIntegerField(default=0)
    h15 = models.PositiveIntegerField(default=0)
    h16 = models.PositiveIntegerField(default=0)
    h17 = models.PositiveIntegerField(default=0)
    h18 = models.PositiveIntegerField(default=0)
    h19 = models.PositiveIntegerField(default=0)
    h20 = models.PositiveIntegerField(default=0)
    h21 = models.PositiveIntegerField(default=0)
    h22 = models.PositiveIntegerField(default=0)

    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ["bucket"]

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.model} ×{self.requests}"

    @property
    def latency_histogram(self) -> list[int]:
        return [getattr(self, name) for name in HISTOGRAM_FIELDS]


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
