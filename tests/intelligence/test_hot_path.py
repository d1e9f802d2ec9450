"""Requests get their pattern on the hot path, from templates learned off the path."""

from __future__ import annotations

from intelligence.models import Pattern, RequestInsight, Template
from tests.conftest import Gateway
from tests.intelligence.conftest import ask, learn_now

HAIKU = "Write a haiku about {} for my {} newsletter readers."


def test_learned_templates_reach_the_hot_path_and_the_log(gateway: Gateway) -> None:
    for topic, n in (("autumn", 1), ("the sea", 2), ("city lights at night", 3)):
        ask(gateway, HAIKU.format(topic, n))
    report = learn_now(gateway, 3)
    assert report.new_patterns == 1
    pattern = Pattern.objects.get()
    template = Template.objects.get()
    assert "haiku" in pattern.name and template.examples == 3
    assert template.text == "[user] Write a haiku about <*> for my <NUM> newsletter readers."

    raw = ask(gateway, HAIKU.format("old friends", 44))
    assert raw.headers["x-llmproxy-pattern"] == f"{pattern.id}/v1"
    newest = gateway.logs(4)[0]
    assert newest.annotations["pattern"] == {
        "id": pattern.id,
        "template_id": template.id,
        "version": 1,
    }
    assert len(newest.annotations["prompt_hash"]) == 40

    learn_now(gateway, 4)
    insight = RequestInsight.objects.get(log=newest)
    assert insight.pattern_id == pattern.id and insight.outcome == "success"
    pattern.refresh_from_db()
    assert pattern.requests == 4 and pattern.success_rate == 1.0


def test_an_unknown_prompt_gets_no_pattern_on_the_hot_path_but_one_after_learning(
    gateway: Gateway,
) -> None:
    ask(gateway, "Tell me something surprising about octopuses")
    log = gateway.logs(1)[0]
    assert "pattern" not in log.annotations
    learn_now(gateway, 1)
    assert RequestInsight.objects.get(log=log).pattern is not None


def test_learning_twice_changes_nothing_the_second_time(gateway: Gateway) -> None:
    for topic in ("autumn", "the sea"):
        ask(gateway, HAIKU.format(topic, 1))
    first = learn_now(gateway, 2)
    second = learn_now(gateway, 2)
    assert first.requests == 2 and second.requests == 0
    assert RequestInsight.objects.count() == 2 and Pattern.objects.count() == 1


def test_outcomes_of_real_requests_are_recorded(gateway: Gateway) -> None:
    gateway.fake.then(finish_reason="length").then(
        reply="I'm sorry, but I can't help with that."
    ).then(reply="not json at all")
    ask(gateway, "Describe a castle at dawn")
    ask(gateway, "Describe a castle at night")
    ask(gateway, "Describe a castle as JSON", response_format={"type": "json_object"})
    ask(gateway, "Describe a castle in winter")
    learn_now(gateway, 4)
    outcomes = {
        i.log.body.request["messages"][0]["content"]: i.outcome
        for i in RequestInsight.objects.select_related("log__body")
    }
    assert outcomes == {
        "Describe a castle at dawn": "truncated",
        "Describe a castle at night": "refused",
        "Describe a castle as JSON": "invalid_json",
        "Describe a castle in winter": "success",
    }


def test_upstream_errors_count_as_errors_of_the_pattern(gateway: Gateway) -> None:
    import openai
    import pytest

    gateway.fake.then(status=400)
    with pytest.raises(openai.BadRequestError):
        ask(gateway, "Describe a castle at dawn")
    learn_now(gateway, 1)
    insight = RequestInsight.objects.get()
    assert insight.outcome == "error" and insight.errored and insight.pattern is not None
    assert insight.pattern.error_rate == 1.0


def test_the_same_prompt_again_in_a_session_marks_the_first_as_retried(gateway: Gateway) -> None:
    headers = {"x-session-id": "s-1"}
    ask(gateway, "Plan a trip to Lisbon", extra_headers=headers)
    ask(gateway, "Plan a trip to Lisbon", extra_headers=headers)
    ask(gateway, "Plan a trip to Lisbon", extra_headers={"x-session-id": "s-2"})
    learn_now(gateway, 3)
    retried = sorted(RequestInsight.objects.values_list("session_id", "retried"))
    assert retried == [("s-1", False), ("s-1", True), ("s-2", False)]
