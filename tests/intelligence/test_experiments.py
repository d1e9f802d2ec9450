"""Experiments on live traffic: sticky arms, measurement from the log, decision, promotion."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.core.management import call_command

from intelligence.models import Experiment, Rule
from intelligence.services.experiments import (
    experiment_apply_decision,
    experiment_evaluate,
    experiment_from_rule,
    experiment_start,
)
from intelligence.services.rules import rule_save
from proxy.fake_upstream import Behaviour
from tests.conftest import Gateway
from tests.intelligence.conftest import learn_now
from tests.intelligence.decisions import decision_records

ACTOR = "admin:alice"


def ask_as(
    gateway: Gateway, session: str, text: str = "Summarise the report", **kwargs: Any
) -> Any:
    return gateway.openai().chat.completions.with_raw_response.create(
        model=kwargs.pop("model", "cheap-model"),
        messages=[{"role": "user", "content": text}],
        extra_headers={"x-session-id": session},
        **kwargs,
    )


def routed_experiment(mode: str = "auto", **settings: Any) -> Experiment:
    """Treatment: route to `good-model` (the fake answers it well); control keeps `cheap-model`."""
    rule = rule_save(
        rule=Rule(
            name="use the better model", operations=[{"op": "route_model", "model": "good-model"}]
        ),
        actor=ACTOR,
    )
    settings.setdefault("min_samples_per_arm", 10)
    experiment = experiment_from_rule(rule=rule, actor=ACTOR, mode=mode, **settings)
    return experiment_start(experiment=experiment, actor=ACTOR)


def test_a_session_keeps_its_arm_and_the_log_says_which(gateway: Gateway) -> None:
    experiment = routed_experiment(holdout_percent=20)
    arms: dict[str, set[str]] = {}
    for _round in range(2):
        for session in range(30):
            raw = ask_as(gateway, f"s{session}")
            header = raw.headers["x-llmproxy-enhancements"]
            arms.setdefault(f"s{session}", set()).add(header)
    assert all(len(seen) == 1 for seen in arms.values())  # sticky
    logs = gateway.logs(60)
    counts = Counter(log.annotations["experiment"]["arm"] for log in logs)
    assert set(counts) == {"control", "treatment", "holdout"}
    for log in logs:
        arm = log.annotations["experiment"]["arm"]
        assert log.annotations["experiment"]["id"] == experiment.id
        assert (log.requested_model == "good-model") == (arm == "treatment")


def test_a_better_arm_is_promoted_automatically_and_audited(gateway: Gateway) -> None:
    gateway.fake.by_model["cheap-model"] = Behaviour(finish_reason="length")  # truncated
    experiment = routed_experiment()
    for session in range(70):
        ask_as(gateway, f"user-{session}")
    learn_now(gateway, 70)
    decision = experiment_evaluate(experiment=experiment)
    assert decision.action == "promote" and decision.arm == "treatment"
    experiment.refresh_from_db()
    assert experiment.status == "promoted"
    rule = experiment.promoted_rule
    assert rule is not None and rule.enabled and rule.version == 1
    control, treatment = experiment.arms.order_by("-is_control")
    assert control.samples + treatment.samples == 70
    assert control.successes == 0 and treatment.successes == treatment.samples
    raw = ask_as(gateway, "new-user")
    assert raw.headers["x-llmproxy-enhancements"] == f"rule:{rule.id}@v1"
    assert gateway.fake.requests[-1]["json"]["model"] == "good-model"
    actions = list(decision_records().order_by("id").values_list("action", flat=True))
    assert "experiment.start" in actions and "experiment.promote" in actions
    assert "rule.enable" in actions


def test_a_worse_arm_is_rolled_back_after_approval(gateway: Gateway) -> None:
    gateway.fake.by_model["good-model"] = Behaviour(reply="I'm sorry, but I can't help with that.")
    experiment = routed_experiment(mode="approval")
    for session in range(70):
        ask_as(gateway, f"user-{session}")
    learn_now(gateway, 70)
    decision = experiment_evaluate(experiment=experiment)
    assert decision.action == "rollback"  # its only treatment arm was stopped
    experiment.refresh_from_db()
    assert experiment.status == "decided" and experiment.recommendation == "rollback"
    assert experiment.arms.get(name="treatment").stopped
    ask_as(gateway, "user-1")  # stopped arm: everyone gets control while waiting
    assert gateway.fake.requests[-1]["json"]["model"] == "cheap-model"
    experiment_apply_decision(experiment=experiment, actor=ACTOR)
    experiment.refresh_from_db()
    assert experiment.status == "rolled_back"
    with pytest.raises(ValueError, match="already applied"):
        experiment_apply_decision(experiment=experiment, actor="admin:bob")
    assert decision_records().filter(action="experiment.rollback").count() == 1
    assert not Rule.objects.filter(enabled=True).exists()
    actions = set(decision_records().values_list("action", flat=True))
    assert {"experiment.guardrail", "experiment.decide", "experiment.rollback"} <= actions


def test_the_status_command_prints_arms_and_intervals(gateway: Gateway, capsys: Any) -> None:
    experiment = routed_experiment()
    for session in range(12):
        ask_as(gateway, f"u{session}")
    learn_now(gateway, 12)
    call_command("experiments", "status", "--evaluate")
    out = capsys.readouterr().out
    assert f"#{experiment.id} rule: use the better model [running, auto" in out
    assert "control" in out and "treatment" in out and "vs control: success" in out
    call_command("experiments", "status", "--json")
    import json

    summary = json.loads(capsys.readouterr().out)[0]
    assert sum(arm["samples"] for arm in summary["arms"]) == 12
    assert {"success_rate", "error_rate", "latency_ms", "tokens", "cost_usd", "feedback"} <= set(
        summary["arms"][0]
    )


def test_feedback_given_through_the_api_counts_in_the_arm(gateway: Gateway) -> None:
    import httpx

    experiment = routed_experiment()
    ids = [ask_as(gateway, f"fb-{n}").headers["x-llmproxy-request-id"] for n in range(6)]
    learn_now(gateway, 6)
    with httpx.Client(
        base_url=gateway.url, headers={"authorization": f"Bearer {gateway.key}"}, timeout=10
    ) as client:
        for request_id in ids:
            response = client.post("/api/feedback", json={"request_id": request_id, "score": 0.0})
            assert response.status_code == 201
    experiment_evaluate(experiment=experiment)
    arms = list(experiment.arms.all())
    assert sum(arm.feedback_count for arm in arms) == 6
    assert sum(arm.feedback_sum for arm in arms) == 0.0
    assert sum(arm.successes for arm in arms) == 0  # thumbs down: not a success


def test_the_scheduled_job_evaluates_running_experiments_only(gateway: Gateway) -> None:
    from intelligence import tasks

    routed_experiment()
    assert tasks.evaluate_experiments() == {"continue": 1}
    Experiment.objects.update(status="stopped")
    assert tasks.evaluate_experiments() == {}
    names = {s["name"] for s in tasks.SCHEDULES}
    assert {"intelligence.experiments", "intelligence.suggest"} <= names
