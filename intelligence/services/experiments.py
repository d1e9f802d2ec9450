"""Experiment flows: create (from a rule or a suggestion), start, measure, decide,
promote or roll back. Every decision is audited (`intelligence.audit`).

Measurement happens off the request path: `experiment_measure` recomputes each
arm's numbers whole from the request log (the arm is in
`annotations["experiment"]`) and the request insights (success, from the
patterns' signals and feedback), so it is idempotent. `experiment_evaluate` then
runs the decision rule (`intelligence.stats.decision`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from intelligence.audit import audit
from intelligence.models import Experiment, ExperimentArm, JudgeScore, RequestInsight, Rule
from intelligence.rules.operations import compile_operations
from intelligence.stats.decision import ArmData, Decision, Policy, decide
from intelligence.stats.sequential import DEFAULT_TAU, clustered_rate_variance
from proxy.models import RequestLog

SYSTEM_ACTOR = "system:experiments"
METRICS = (
    "samples",
    "successes",
    "errors",
    "feedback_count",
    "feedback_sum",
    "feedback_sq",
    "judge_count",
    "judge_sum",
    "judge_sq",
    "latency_ms_sum",
    "latency_ms_sq",
    "tokens_sum",
    "tokens_sq",
    "cost_sum",
    "cost_sq",
)


@transaction.atomic
def experiment_create(
    *,
    name: str,
    operations: list[dict[str, Any]],
    conditions: dict[str, Any] | None = None,
    namespace_id: int | None = None,
    source_rule: Rule | None = None,
    actor: str,
    **settings: Any,
) -> Experiment:
    """A draft experiment: a control arm and one treatment arm with the given operations."""
    compile_operations(operations)
    experiment = Experiment.objects.create(
        name=name, conditions=conditions or {}, namespace_id=namespace_id, **settings
    )
    ExperimentArm.objects.create(experiment=experiment, name="control", is_control=True)
    ExperimentArm.objects.create(
        experiment=experiment, name="treatment", operations=operations, source_rule=source_rule
    )
    audit(actor, "experiment.create", experiment, {"operations": operations})
    return experiment


def experiment_from_rule(*, rule: Rule, actor: str, **settings: Any) -> Experiment:
    return experiment_create(
        name=f"rule: {rule.name}",
        operations=rule.operations,
        conditions=rule.conditions,
        namespace_id=rule.namespace_id,
        source_rule=rule,
        actor=actor,
        **settings,
    )


def experiment_start(*, experiment: Experiment, actor: str) -> Experiment:
    if not experiment.arms.filter(is_control=True).exists():
        raise ValueError("an experiment needs a control arm")
    experiment.status = Experiment.Status.RUNNING
    experiment.started_at = experiment.started_at or timezone.now()
    experiment.save()
    audit(actor, "experiment.start", experiment, {"holdout_percent": experiment.holdout_percent})
    return experiment


def experiment_stop(*, experiment: Experiment, actor: str, reason: str = "") -> Experiment:
    experiment.status = Experiment.Status.STOPPED
    experiment.ended_at = timezone.now()
    experiment.save()
    audit(actor, "experiment.stop", experiment, {"reason": reason})
    return experiment


def _accumulate(row: dict[str, float], log: dict[str, Any], succeeded: bool | None) -> None:
    errored = log["status_code"] >= 400 or bool(log["error_type"])
    row["samples"] += 1
    row["successes"] += int(bool(succeeded) and not errored)
    row["errors"] += int(errored)
    latency = log["latency_ms"] or 0.0
    tokens = float((log["prompt_tokens"] or 0) + (log["completion_tokens"] or 0))
    cost = float(log["cost_usd"] or 0)
    row["latency_ms_sum"] += latency
    row["latency_ms_sq"] += latency * latency
    row["tokens_sum"] += tokens
    row["tokens_sq"] += tokens * tokens
    row["cost_sum"] += cost
    row["cost_sq"] += cost * cost


def experiment_measure(*, experiment: Experiment) -> dict[str, dict[str, float]]:
    """Recompute every arm's numbers from the log and the insights (idempotent)."""
    arms = {arm.name: arm for arm in experiment.arms.all()}
    rows: dict[str, dict[str, float]] = {
        name: dict.fromkeys(METRICS, 0.0) for name in [*arms, "holdout"]
    }
    logs = RequestLog.objects.filter(annotations__experiment__id=experiment.id)
    if experiment.started_at:
        logs = logs.filter(created_at__gte=experiment.started_at)
    fields = (
        "id",
        "annotations",
        "session_id",
        "api_key_id",
        "status_code",
        "error_type",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
    )
    entries = list(logs.values(*fields))
    scores = dict(
        JudgeScore.objects.filter(log_id__in=[e["id"] for e in entries]).values_list(
            "log_id", "score"
        )
    )
    insights = {
        i.log_id: i for i in RequestInsight.objects.filter(log_id__in=[e["id"] for e in entries])
    }
    units: dict[str, dict[str, list[int]]] = {name: {} for name in rows}
    for entry in entries:
        insight = insights.get(entry["id"])
        if insight is None:  # not learned yet: its outcome is unknown, count it later
            continue
        arm = (entry["annotations"].get("experiment") or {}).get("arm", "")
        if arm not in rows:
            continue
        before = (rows[arm]["successes"], rows[arm]["errors"])
        _accumulate(rows[arm], entry, insight.succeeded)
        unit = units[arm].setdefault(entry["session_id"] or f"key:{entry['api_key_id']}", [0, 0, 0])
        unit[0] += 1
        unit[1] += int(rows[arm]["successes"] - before[0])
        unit[2] += int(rows[arm]["errors"] - before[1])
        if insight.feedback_score is not None:
            rows[arm]["feedback_count"] += 1
            rows[arm]["feedback_sum"] += insight.feedback_score
            rows[arm]["feedback_sq"] += insight.feedback_score**2
        score = scores.get(entry["id"])
        if score is not None:
            rows[arm]["judge_count"] += 1
            rows[arm]["judge_sum"] += score
            rows[arm]["judge_sq"] += score * score
    now = timezone.now()
    for name, arm in arms.items():
        seen = list(units[name].values())
        # .update(): metrics are not configuration, so the snapshot is not reloaded
        ExperimentArm.objects.filter(pk=arm.pk).update(
            computed_at=now,
            units=len(seen),
            success_variance=clustered_rate_variance([(n, s) for n, s, _ in seen]),
            error_variance=clustered_rate_variance([(n, e) for n, _, e in seen]),
            **rows[name],
        )
    return rows


def policy_of(experiment: Experiment) -> Policy:
    return Policy(
        alpha=experiment.alpha,
        tau=DEFAULT_TAU,
        min_samples=experiment.min_samples_per_arm,
        max_samples=experiment.max_samples_per_arm,
        error_increase=experiment.guardrail_error_rate_increase,
        cost_increase=experiment.guardrail_cost_increase,
    )


def arm_data(arm: ExperimentArm) -> ArmData:
    return ArmData(
        name=arm.name,
        samples=arm.samples,
        successes=arm.successes,
        errors=arm.errors,
        cost_sum=arm.cost_sum,
        cost_sq=arm.cost_sq,
        is_control=arm.is_control,
        stopped=arm.stopped,
        success_variance=arm.success_variance,
        error_variance=arm.error_variance,
    )


def experiment_evaluate(*, experiment: Experiment, actor: str = SYSTEM_ACTOR) -> Decision:
    """Measure, decide, and act on the decision (or wait for approval, as configured)."""
    experiment_measure(experiment=experiment)
    decision = decide([arm_data(a) for a in experiment.arms.all()], policy_of(experiment))
    if decision.action == "continue":
        return decision
    if decision.action == "stop_arm":
        arm = experiment.arms.get(name=decision.arm)
        arm.stopped = True
        arm.stop_reason = decision.reason
        arm.save()
        audit(
            actor, "experiment.guardrail", experiment, {"arm": arm.name, "reason": decision.reason}
        )
        return experiment_evaluate_after_stop(experiment, decision, actor)
    return _conclude(experiment, decision, actor)


def experiment_evaluate_after_stop(
    experiment: Experiment, stopped: Decision, actor: str
) -> Decision:
    if experiment.arms.filter(is_control=False, stopped=False).exists():
        return stopped
    return _conclude(experiment, Decision("rollback", reason=stopped.reason), actor)


def _conclude(experiment: Experiment, decision: Decision, actor: str) -> Decision:
    experiment.recommendation = decision.action
    experiment.recommended_arm = (
        experiment.arms.filter(name=decision.arm).first() if decision.arm else None
    )
    experiment.decision_reason = decision.reason
    if experiment.mode == Experiment.Mode.AUTO:
        experiment.save()
        experiment_apply_decision(experiment=experiment, actor=actor)
    else:
        experiment.status = Experiment.Status.DECIDED
        experiment.save()
        audit(
            actor,
            "experiment.decide",
            experiment,
            {"recommendation": decision.action, "arm": decision.arm, "reason": decision.reason},
        )
    return decision


@transaction.atomic
def experiment_apply_decision(*, experiment: Experiment, actor: str) -> Experiment:
    """Promote the recommended arm into an enabled rule, or roll back to control.

    Claimed with a conditional update, so two workers (or an admin and the job) never
    apply the same decision twice; the second gets a ValueError.
    """
    from intelligence.services.rules import rule_save

    now = timezone.now()
    claimed = Experiment.objects.filter(
        pk=experiment.pk,
        ended_at__isnull=True,
        status__in=(Experiment.Status.RUNNING, Experiment.Status.DECIDED),
    ).update(ended_at=now)
    if claimed != 1:
        raise ValueError("this experiment's decision was already applied")
    details: dict[str, Any] = {"reason": experiment.decision_reason}
    if experiment.recommendation == "promote" and experiment.recommended_arm is not None:
        arm = experiment.recommended_arm
        rule = arm.source_rule or Rule(
            name=f"{experiment.name} / {arm.name}"[:120], namespace_id=experiment.namespace_id
        )
        rule.conditions = experiment.conditions
        rule.operations = arm.operations
        rule.enabled = True
        rule_save(rule=rule, actor=actor)
        experiment.promoted_rule = rule
        experiment.status = Experiment.Status.PROMOTED
        action = "experiment.promote"
        details.update(arm=arm.name, rule=rule.pk)
    else:
        experiment.status = Experiment.Status.ROLLED_BACK
        action = "experiment.rollback"
    experiment.ended_at = now
    experiment.save()
    audit(actor, action, experiment, details)
    return experiment


def evaluate_running() -> dict[str, int]:
    """The scheduled job: evaluate every running experiment."""
    counts: dict[str, int] = {}
    for experiment in Experiment.objects.filter(status=Experiment.Status.RUNNING):
        decision = experiment_evaluate(experiment=experiment)
        counts[decision.action] = counts.get(decision.action, 0) + 1
    return counts
