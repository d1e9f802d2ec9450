"""The learning jobs are declared in code and safe to run twice."""

from __future__ import annotations

import pytest

from intelligence import tasks
from intelligence.models import Pattern, PatternStat, PromptEmbedding
from tests.conftest import Gateway
from tests.intelligence.conftest import ask


@pytest.mark.django_db
def test_schedules_are_declared_once_however_often_they_are_ensured() -> None:
    from django_q.models import Schedule

    tasks.ensure_schedules()
    tasks.ensure_schedules()
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {s["name"] for s in tasks.SCHEDULES} <= names
    assert Schedule.objects.filter(name="intelligence.learn").count() == 1


def test_every_job_can_run_twice(gateway: Gateway) -> None:
    from proxy.models import RequestLog

    RequestLog.objects.all().delete()  # a late record of an earlier test must not count here
    for city in ("Paris", "Rome", "Oslo"):
        ask(gateway, f"Plan a weekend in {city} with a small budget")
    gateway.logs(3)
    assert tasks.learn_patterns()["requests"] == 3
    assert tasks.learn_patterns()["requests"] == 0
    assert tasks.embed_prompts()["embedded"] == 3
    assert tasks.embed_prompts()["embedded"] == 0
    rows = tasks.rollup_statistics()
    assert rows == tasks.rollup_statistics() == 1
    assert Pattern.objects.count() == 1 and PatternStat.objects.count() == 1
    assert PromptEmbedding.objects.count() == 3
