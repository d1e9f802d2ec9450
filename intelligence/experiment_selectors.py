"""Reads for experiments: each arm's metrics with intervals, for the command, the admin
and the dashboard (`experiment_summaries()` returns plain JSON-ready dicts)."""

from __future__ import annotations

import math
from typing import Any

from intelligence.models import Experiment, ExperimentArm
from intelligence.stats.sequential import (
    DEFAULT_TAU,
    Interval,
    compare_rates,
    mean_interval,
    wilson,
)


def _interval(interval: Interval) -> dict[str, float | None]:
    def clean(x: float) -> float | None:
        return None if math.isnan(x) or math.isinf(x) else round(x, 6)

    return {
        "value": clean(interval.estimate),
        "low": clean(interval.low),
        "high": clean(interval.high),
    }


def arm_metrics(arm: ExperimentArm) -> dict[str, Any]:
    n = arm.samples
    return {
        "name": arm.name,
        "control": arm.is_control,
        "weight": arm.weight,
        "stopped": arm.stopped,
        "stop_reason": arm.stop_reason,
        "samples": n,
        "units": arm.units,
        "success_rate": _interval(wilson(arm.successes, n)),
        "error_rate": _interval(wilson(arm.errors, n)),
        "feedback": {
            "count": arm.feedback_count,
            **_interval(mean_interval(arm.feedback_sum, arm.feedback_sq, arm.feedback_count)),
        },
        "judge": {
            "count": arm.judge_count,
            **_interval(mean_interval(arm.judge_sum, arm.judge_sq, arm.judge_count)),
        },
        "latency_ms": _interval(mean_interval(arm.latency_ms_sum, arm.latency_ms_sq, n)),
        "tokens": _interval(mean_interval(arm.tokens_sum, arm.tokens_sq, n)),
        "cost_usd": _interval(mean_interval(arm.cost_sum, arm.cost_sq, n)),
    }


def experiment_summary(experiment: Experiment) -> dict[str, Any]:
    arms = list(experiment.arms.all())
    control = next((a for a in arms if a.is_control), None)
    treatments = [a for a in arms if not a.is_control]
    alpha = experiment.alpha / max(1, len([a for a in treatments if not a.stopped]))
    rows = []
    for arm in arms:
        row = arm_metrics(arm)
        if control is not None and not arm.is_control:
            result = compare_rates(
                control.successes,
                control.samples,
                arm.successes,
                arm.samples,
                alpha=alpha,
                tau=DEFAULT_TAU,
                clustered=(control.success_variance, arm.success_variance),
            )
            row["vs_control"] = {
                "success_difference": _interval(result.difference),
                "always_valid_p": round(result.p_value, 6),
            }
        rows.append(row)
    return {
        "id": experiment.id,
        "name": experiment.name,
        "status": experiment.status,
        "mode": experiment.mode,
        "holdout_percent": experiment.holdout_percent,
        "recommendation": experiment.recommendation,
        "decision_reason": experiment.decision_reason,
        "started_at": experiment.started_at.isoformat() if experiment.started_at else None,
        "arms": rows,
    }


def experiment_summaries(statuses: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    experiments = Experiment.objects.prefetch_related("arms").order_by("-created_at")
    if statuses:
        experiments = experiments.filter(status__in=statuses)
    return [experiment_summary(e) for e in experiments]
