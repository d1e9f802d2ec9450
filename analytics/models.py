"""Rollups of the request log: per minute, hour and day, at three levels of detail.

The analytics API and the dashboard read these, never the raw log, so a chart's
cost depends on the number of rows it sums, not on the number of requests. Latency
is kept as a histogram over fixed bounds (`LATENCY_BOUNDS_MS`, one column per
bucket), so percentiles of any range are computed from summed histograms.

Levels (`LEVELS`), finest first; the selector reads the coarsest one that still
has the dimensions a question needs:
- "key": per namespace, key, model and provider (`MinuteRollup`, ...);
- "model": per namespace, model and provider, keys added up (`ModelMinuteRollup`, ...);
- "namespace": per namespace only (`NamespaceMinuteRollup`, ...), for charts and
  totals: 20 namespaces make 20 rows an hour where 100 keys and 6 models make 600.
"""

from __future__ import annotations

from django.db import models

# Upper bounds (ms) of the latency histogram buckets; the last bucket is open.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000,
    1500, 2000, 3000, 5000, 7500, 10000, 20000, 30000, 60000, 120000,
)  # fmt: skip
HISTOGRAM_FIELDS: tuple[str, ...] = tuple(f"h{i:02d}" for i in range(len(LATENCY_BOUNDS_MS) + 1))


class Totals(models.Model):
    """The measures every rollup row carries, summed over its bucket and dimensions."""

    bucket = models.DateTimeField(help_text="Start of the minute, hour or day (UTC).")
    namespace_id = models.BigIntegerField(null=True, blank=True)
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
        return f"{self.bucket:%Y-%m-%d %H:%M} ×{self.requests}"

    @property
    def latency_histogram(self) -> list[int]:
        return [getattr(self, name) for name in HISTOGRAM_FIELDS]


class Rollup(Totals):
    """Level "key": the finest rollup, written from the request log."""

    api_key_id = models.BigIntegerField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=64, blank=True)

    class Meta(Totals.Meta):
        abstract = True

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} {self.model} ×{self.requests}"


class ModelRollup(Totals):
    """Level "model": keys added up."""

    model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=64, blank=True)

    class Meta(Totals.Meta):
        abstract = True


class MinuteRollup(Rollup):
    class Meta(Rollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_min_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_min_ns_bucket"),
            models.Index(fields=["api_key_id", "bucket"], name="rollup_min_key_bucket"),
        ]


class HourRollup(Rollup):
    class Meta(Rollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_hour_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_hour_ns_bucket"),
            models.Index(fields=["api_key_id", "bucket"], name="rollup_hour_key_bucket"),
        ]


class DayRollup(Rollup):
    class Meta(Rollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_day_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_day_ns_bucket"),
            models.Index(fields=["api_key_id", "bucket"], name="rollup_day_key_bucket"),
        ]


class ModelMinuteRollup(ModelRollup):
    class Meta(ModelRollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_mmin_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_mmin_ns_bucket"),
            models.Index(fields=["model", "bucket"], name="rollup_mmin_model_bucket"),
        ]


class ModelHourRollup(ModelRollup):
    class Meta(ModelRollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_mhour_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_mhour_ns_bucket"),
            models.Index(fields=["model", "bucket"], name="rollup_mhour_model_bucket"),
        ]


class ModelDayRollup(ModelRollup):
    class Meta(ModelRollup.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_mday_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_mday_ns_bucket"),
            models.Index(fields=["model", "bucket"], name="rollup_mday_model_bucket"),
        ]


class NamespaceMinuteRollup(Totals):
    class Meta(Totals.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_nmin_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_nmin_ns_bucket"),
        ]


class NamespaceHourRollup(Totals):
    class Meta(Totals.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_nhour_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_nhour_ns_bucket"),
        ]


class NamespaceDayRollup(Totals):
    class Meta(Totals.Meta):
        indexes = [
            models.Index(fields=["bucket"], name="rollup_nday_bucket"),
            models.Index(fields=["namespace_id", "bucket"], name="rollup_nday_ns_bucket"),
        ]


GRANULARITIES: dict[str, tuple[type[Rollup], int]] = {
    "minute": (MinuteRollup, 60),
    "hour": (HourRollup, 3600),
    "day": (DayRollup, 86400),
}

# Level -> (its dimensions, its table per granularity), finest first.
LEVELS: dict[str, tuple[tuple[str, ...], dict[str, type[Totals]]]] = {
    "key": (
        ("namespace_id", "api_key_id", "model", "provider"),
        {"minute": MinuteRollup, "hour": HourRollup, "day": DayRollup},
    ),
    "model": (
        ("namespace_id", "model", "provider"),
        {"minute": ModelMinuteRollup, "hour": ModelHourRollup, "day": ModelDayRollup},
    ),
    "namespace": (
        ("namespace_id",),
        {"minute": NamespaceMinuteRollup, "hour": NamespaceHourRollup, "day": NamespaceDayRollup},
    ),
}


class RollupWatermark(models.Model):
    """Up to when the minute rollups are complete; the job resumes from here."""

    name = models.CharField(max_length=32, unique=True)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.until:%Y-%m-%d %H:%M}"
