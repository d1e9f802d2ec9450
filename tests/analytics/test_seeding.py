"""seed_logs: realistic synthetic request logs, bodies for a share of them, and their rollups."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from analytics.models import DayRollup, HourRollup, NamespaceDayRollup
from proxy.models import RequestBody, RequestLog

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_logs", *args, stdout=out)
    return out.getvalue()


def test_it_spreads_realistic_rows_over_namespaces_keys_models_and_days() -> None:
    output = seed("--rows", "3000", "--namespaces", "3", "--keys", "2", "--chunk", "1000")
    assert "Seeded 3000 request logs" in output and "rows/s" in output
    assert RequestLog.objects.count() == 3000
    assert RequestLog.objects.values("namespace").distinct().count() == 3
    assert RequestLog.objects.values("api_key").distinct().count() == 6
    assert RequestLog.objects.values("requested_model").distinct().count() >= 5
    assert RequestLog.objects.values("provider").distinct().count() == 3
    oldest = RequestLog.objects.order_by("created_at").first()
    assert oldest is not None and oldest.created_at < timezone.now() - timedelta(days=29)
    assert RequestLog.objects.filter(status_code__gte=400).exists()
    assert RequestLog.objects.filter(stream=True).exists()
    assert RequestLog.objects.filter(finish_reason="length").exists()


def test_a_share_of_the_rows_get_a_body_in_the_body_table() -> None:
    seed("--rows", "2000", "--namespaces", "1", "--keys", "1", "--bodies", "0.1", "--no-rollup")
    bodies = RequestBody.objects.count()
    assert 100 < bodies < 300
    body = RequestBody.objects.select_related("log").first()
    assert body is not None and body.request["model"] == body.log.requested_model


def test_the_same_seed_gives_the_same_rows() -> None:
    seed("--rows", "200", "--namespaces", "1", "--keys", "1", "--no-rollup")
    first = list(RequestLog.objects.order_by("id").values_list("id", "status_code", "cost_usd"))
    RequestLog.objects.all().delete()
    seed("--rows", "200", "--namespaces", "1", "--keys", "1", "--no-rollup")
    again = list(RequestLog.objects.order_by("id").values_list("id", "status_code", "cost_usd"))
    assert again == first


def test_it_builds_every_rollup_level_over_the_seeded_window() -> None:
    output = seed("--rows", "1500", "--days", "3", "--namespaces", "2", "--keys", "2")
    assert "Rollups" in output
    for table in (HourRollup, DayRollup, NamespaceDayRollup):
        assert table.objects.aggregate(n=Sum("requests"))["n"] == 1500


@pytest.mark.django_db(transaction=True)
def test_a_load_into_an_empty_log_ends_with_every_index_and_foreign_key_in_place() -> None:
    from django.db import connection

    def schema() -> tuple[set[str], set[str]]:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, "proxy_requestlog")
        indexes = {name for name, c in constraints.items() if c["index"]}
        foreign_keys = {name for name, c in constraints.items() if c["foreign_key"]}
        return indexes, foreign_keys

    before = schema()
    seed("--rows", "500", "--namespaces", "1", "--keys", "1", "--no-rollup")
    assert RequestLog.objects.count() == 500
    assert schema() == before
