"""Data growth: prune_logs, per-namespace retention and its scheduled job."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from proxy.models import Namespace, RequestBody, RequestLog

pytestmark = pytest.mark.django_db


def log_at(namespace: Namespace | None, days_ago: float, **fields: Any) -> RequestLog:
    log = RequestLog.objects.create(
        created_at=timezone.now() - timedelta(days=days_ago),
        namespace=namespace,
        endpoint="chat",
        api_format="openai",
        status_code=200,
        latency_ms=1.0,
        **fields,
    )
    RequestBody.objects.create(log=log, request={"messages": []})
    return log


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_prune_logs_deletes_old_rows_and_their_bodies_in_batches() -> None:
    team = Namespace.objects.create(name="team")
    for _ in range(7):
        log_at(team, days_ago=40)
    kept = log_at(team, days_ago=5)
    with CaptureQueriesContext(connection) as queries:
        output = run("prune_logs", "--older-than", "30d", "--batch-size", "3")
    assert "Deleted 7 request logs in 3 batches" in output
    assert list(RequestLog.objects.all()) == [kept]
    assert RequestBody.objects.count() == 1
    limited = [q["sql"] for q in queries.captured_queries if "LIMIT 3" in q["sql"]]
    assert len(limited) == 4  # three batches of at most 3 ids, then an empty one


def test_prune_logs_can_keep_to_one_namespace() -> None:
    team, other = Namespace.objects.create(name="team"), Namespace.objects.create(name="other")
    log_at(team, days_ago=40)
    spared = log_at(other, days_ago=40)
    run("prune_logs", "--older-than", "30d", "--namespace", "team")
    assert list(RequestLog.objects.all()) == [spared]


@pytest.mark.parametrize(("age", "days"), [("30d", 30), ("2w", 14), ("36h", 1.5), ("7", 7)])
def test_prune_logs_reads_ages_in_days_weeks_hours(age: str, days: float) -> None:
    log_at(None, days_ago=days + 0.01)
    log_at(None, days_ago=days - 0.01)
    run("prune_logs", "--older-than", age)
    assert RequestLog.objects.count() == 1


def test_prune_logs_says_what_is_wrong() -> None:
    with pytest.raises(CommandError, match="expected a number"):
        run("prune_logs", "--older-than", "soon")
    with pytest.raises(CommandError, match="No namespace"):
        run("prune_logs", "--older-than", "1d", "--namespace", "nobody")


def test_each_namespace_keeps_logs_as_long_as_its_retention_says(settings: Any) -> None:
    settings.LOG_RETENTION_DAYS = 30
    short = Namespace.objects.create(name="short", log_retention_days=7)
    forever = Namespace.objects.create(name="forever", log_retention_days=0)
    default = Namespace.objects.create(name="default")
    assert default.log_retention_days == 30
    gone = [log_at(short, 10), log_at(default, 45), log_at(None, 45)]
    kept = [log_at(short, 3), log_at(forever, 400), log_at(default, 20), log_at(None, 20)]

    output = run("prune_logs")  # no age: every namespace's own retention

    assert set(RequestLog.objects.values_list("id", flat=True)) == {log.id for log in kept}
    assert not RequestLog.objects.filter(id__in=[log.id for log in gone]).exists()
    assert "short: 1 deleted" in output and "(no namespace): 1 deleted" in output


def test_the_retention_job_is_scheduled_daily_by_the_migrations() -> None:
    from django_q.models import Schedule

    from proxy.tasks import RETENTION_SCHEDULE_NAME, RETENTION_TASK

    schedule = Schedule.objects.get(name=RETENTION_SCHEDULE_NAME)
    assert schedule.func == RETENTION_TASK
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1


def test_the_retention_task_runs_through_django_q() -> None:
    from django_q.tasks import async_task

    team = Namespace.objects.create(name="team", log_retention_days=1)
    log_at(team, 2)
    async_task("proxy.tasks.prune_logs_by_retention", sync=True)
    assert not RequestLog.objects.exists()
