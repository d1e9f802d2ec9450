"""The scheduled refit: baselines learned from the stored request history.

`baselines_refit()` (a django-q2 task, hourly) aggregates `RequestLog` by key
and hour over `ANOMALY_BASELINE_DAYS` and stores one `Baseline` per key, per
namespace, and per namespace's typical key (the namespace divided by its
keys: what a new key starts from). Hourly totals give the per-minute means,
a variance (hour-to-hour, divided down to a minute and doubled, to allow for
bursts within an hour) and the time-of-day profile; the latest requests give
the prompt length distribution, the client IPs, user agents and model mix.
The processes load the baselines with the configuration snapshot.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from proxy.models import RequestLog
from security.anomaly.baselines import (
    COST,
    ERRORS,
    MAX_CLIENTS,
    METRICS,
    PROMPT_LOG,
    PROMPTS,
    REQUESTS,
    SECURITY,
    TOKENS,
    Seed,
)

SAMPLE_PER_KEY = 2000
BURST_ALLOWANCE = 2.0


def _hourly(since: datetime) -> dict[tuple[int, int], dict[datetime, list[float]]]:
    rows = (
        RequestLog.objects.filter(created_at__gte=since, api_key__isnull=False)
        .annotate(hour=TruncHour("created_at"))
        .values("api_key_id", "namespace_id", "hour")
        .annotate(
            n=Count("id"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cost=Sum("cost_usd"),
            errors=Count("id", filter=Q(status_code__gte=400)),
            security=Count("id", filter=Q(annotations__has_key="security")),
        )
    )
    hours: dict[tuple[int, int], dict[datetime, list[float]]] = defaultdict(dict)
    for row in rows:
        values = [0.0] * len(METRICS)
        values[REQUESTS] = row["n"]
        values[TOKENS] = (row["prompt"] or 0) + (row["completion"] or 0)
        values[COST] = float(row["cost"] or 0)
        values[ERRORS] = row["errors"]
        values[SECURITY] = row["security"]
        hours[(row["api_key_id"], row["namespace_id"])][row["hour"]] = values
    return hours


def _samples(since: datetime) -> dict[int, dict[str, Any]]:
    """Per key: prompt lengths, IPs, agents and models of its latest requests."""
    samples: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"prompts": [], "ips": {}, "agents": {}, "models": defaultdict(int)}
    )
    recent = (
        RequestLog.objects.filter(created_at__gte=since, api_key__isnull=False)
        .order_by("-created_at")
        .values_list("api_key_id", "prompt_tokens", "client_ip", "user_agent", "requested_model")
    )
    for key_id, prompt, ip, agent, model in recent.iterator(chunk_size=2000):
        sample = samples[key_id]
        if len(sample["prompts"]) >= SAMPLE_PER_KEY:
            continue
        if prompt is not None:
            sample["prompts"].append(math.log1p(prompt))
        if ip and len(sample["ips"]) < MAX_CLIENTS:
            sample["ips"].setdefault(ip, None)
        if agent and len(sample["agents"]) < MAX_CLIENTS:
            sample["agents"].setdefault(agent, None)
        if model:
            sample["models"][model] += 1
    return samples


def fit_seed(hours: dict[datetime, list[float]], now: datetime, sample: dict[str, Any]) -> Seed:
    first = min(hours)
    span = max(1, int((now - first).total_seconds() // 3600) + 1)
    n = len(METRICS)
    sums, squares = [0.0] * n, [0.0] * n
    hour_totals, hour_days = [0.0] * 24, [0] * 24
    for offset in range(span):
        hour_days[(first + timedelta(hours=offset)).hour] += 1
    for hour, values in hours.items():
        hour_totals[hour.hour] += values[REQUESTS]
        for metric, value in enumerate(values):
            sums[metric] += value
            squares[metric] += value * value
    prompts = sample.get("prompts") or []
    prompt_mean = sum(prompts) / len(prompts) if prompts else 0.0
    prompt_var = (
        sum((p - prompt_mean) ** 2 for p in prompts) / len(prompts) if len(prompts) > 1 else 1.0
    )
    sums[PROMPTS] = sums[REQUESTS]
    sums[PROMPT_LOG] = sums[REQUESTS] * prompt_mean
    mean = [s / span / 60 for s in sums]
    var = []
    for metric in range(n):
        hourly_mean = sums[metric] / span
        hourly_var = max(0.0, squares[metric] / span - hourly_mean**2)
        var.append(max(hourly_var / 60, mean[metric]) * BURST_ALLOWANCE)
    models = sample.get("models") or {}
    total = sum(models.values()) or 1
    return Seed(
        mean=mean,
        var=var,
        hour_mean=[hour_totals[h] / max(1, hour_days[h]) / 60 for h in range(24)],
        hour_days=hour_days if span >= 48 else [0] * 24,
        prompt_mean=prompt_mean,
        prompt_var=max(prompt_var, 0.05),
        ips=tuple(sample.get("ips") or ()),
        agents=tuple(sample.get("agents") or ()),
        models={m: c / total for m, c in sorted(models.items(), key=lambda i: -i[1])[:16]},
        minutes=span * 60,
    )


def combine(seeds: list[Seed], divide_by: int = 1) -> Seed:
    """The sum of several subjects' baselines (a namespace), optionally per member."""
    n = len(METRICS)
    mean = [sum(s.mean[m] for s in seeds) / divide_by for m in range(n)]
    var = [sum(s.var[m] for s in seeds) / divide_by for m in range(n)]
    ips: dict[str, None] = {}
    agents: dict[str, None] = {}
    models: dict[str, float] = defaultdict(float)
    for seed in seeds:
        ips.update(dict.fromkeys(seed.ips))
        agents.update(dict.fromkeys(seed.agents))
        for model, share in seed.models.items():
            models[model] += share / len(seeds)
    prompt_mean = sum(s.prompt_mean for s in seeds) / len(seeds)
    return Seed(
        mean=mean,
        var=var,
        hour_mean=[sum(s.hour_mean[h] for s in seeds) / divide_by for h in range(24)],
        hour_days=[min(s.hour_days[h] for s in seeds) for h in range(24)],
        prompt_mean=prompt_mean,
        prompt_var=max(s.prompt_var for s in seeds),
        ips=tuple(list(ips)[:MAX_CLIENTS]),
        agents=tuple(list(agents)[:MAX_CLIENTS]),
        models=dict(models),
        minutes=min(s.minutes for s in seeds),
    )


def baselines_refit(*, now: datetime | None = None, days: int | None = None) -> int:
    """Fit and store every baseline. Returns how many were stored."""
    from proxy.invalidation import bump_config_version
    from security.anomaly.models import Baseline

    now = now or timezone.now()
    since = now - timedelta(days=days or settings.ANOMALY_BASELINE_DAYS)
    hourly = _hourly(since)
    samples = _samples(since)
    fitted: dict[tuple[str, int], Seed] = {}
    by_namespace: dict[int, list[Seed]] = defaultdict(list)
    for (key_id, namespace_id), hours in hourly.items():
        seed = fit_seed(hours, now, samples.get(key_id, {}))
        fitted[("key", key_id)] = seed
        by_namespace[namespace_id].append(seed)
    for namespace_id, seeds in by_namespace.items():
        fitted[("namespace", namespace_id)] = combine(seeds)
        fitted[("namespace_key", namespace_id)] = combine(seeds, divide_by=len(seeds))
    for (subject, subject_id), seed in fitted.items():
        Baseline.objects.update_or_create(
            subject=subject,
            subject_id=subject_id,
            defaults={"stats": seed.to_json(), "fitted_at": now},
        )
    if fitted:
        bump_config_version()
    return len(fitted)
