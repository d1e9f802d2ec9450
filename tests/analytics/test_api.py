"""/api/analytics/: namespace-scoped answers from the rollups."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from analytics.services import rollup_rebuild
from tests.analytics.conftest import log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def traffic(personas: dict[str, Any], now: Any) -> dict[str, Any]:
    for minute in range(10):
        log(
            created_at=now - timedelta(minutes=minute), namespace=personas["team_a"], latency_ms=100
        )
    for minute in range(4):
        log(
            created_at=now - timedelta(minutes=minute),
            namespace=personas["team_b"],
            latency_ms=2000,
            status_code=500,
            resolved_model="claude",
            provider="anthropic",
        )
    rollup_rebuild(since=now - timedelta(hours=2), until=now + timedelta(minutes=1))
    return personas


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def window(now: Any, **extra: Any) -> dict[str, Any]:
    """The hour up to and including the minute of `now` (the end is exclusive)."""
    end = now + timedelta(minutes=1)
    return {"start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat(), **extra}


def test_staff_see_every_namespace(traffic: dict[str, Any], now: Any) -> None:
    answer = client_for(traffic["staff"]).get("/api/analytics/summary", window(now))
    assert answer.status_code == 200
    body = answer.json()
    assert body["requests"] == 14
    assert body["errors"] == 4
    assert body["latency_p50_ms"] < 150
    assert body["latency_p99_ms"] > 1500


def test_a_viewer_sees_only_their_namespace(traffic: dict[str, Any], now: Any) -> None:
    client = client_for(traffic["viewer"])
    body = client.get("/api/analytics/summary", window(now)).json()
    assert body["requests"] == 10
    assert body["errors"] == 0
    groups = client.get("/api/analytics/breakdown", window(now, by="namespace")).json()["groups"]
    assert [(g["label"], g["requests"]) for g in groups] == [("team-a", 10)]


def test_a_viewer_may_not_ask_for_another_namespace(traffic: dict[str, Any], now: Any) -> None:
    answer = client_for(traffic["viewer"]).get(
        "/api/analytics/summary", window(now, namespace_id=traffic["team_b"].id)
    )
    assert answer.status_code == 403


def test_strangers_are_turned_away(traffic: dict[str, Any], now: Any) -> None:
    assert client_for(None).get("/api/analytics/summary", window(now)).status_code == 401
    assert client_for(traffic["outsider"]).get("/api/analytics/summary").status_code == 403


def test_the_time_series_has_one_point_per_bucket(traffic: dict[str, Any], now: Any) -> None:
    body = (
        client_for(traffic["staff"])
        .get("/api/analytics/timeseries", window(now, granularity="minute"))
        .json()
    )
    assert body["granularity"] == "minute"
    assert len(body["points"]) == 60
    assert sum(p["requests"] for p in body["points"]) == 14
    assert max(p["errors"] for p in body["points"]) == 1


def test_a_breakdown_by_model_puts_the_busiest_first(traffic: dict[str, Any], now: Any) -> None:
    groups = (
        client_for(traffic["staff"])
        .get("/api/analytics/breakdown", window(now, by="model"))
        .json()["groups"]
    )
    assert [(g["key"], g["requests"], g["error_rate"]) for g in groups] == [
        ("gpt-4o", 10, 0.0),
        ("claude", 4, 1.0),
    ]


def test_the_time_series_exports_as_csv(traffic: dict[str, Any], now: Any) -> None:
    answer = client_for(traffic["staff"]).get(
        "/api/analytics/timeseries.csv", window(now, granularity="hour")
    )
    assert answer["content-type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert sum(int(r["requests"]) for r in rows) == 14
    assert {"t", "requests", "cost_usd", "latency_p95_ms"} <= set(rows[0])


def test_it_is_in_the_openapi_schema(transactional_db: Any) -> None:
    paths = Client().get("/api/openapi.json").json()["paths"]
    assert {
        "/api/analytics/timeseries",
        "/api/analytics/breakdown",
        "/api/analytics/summary",
    } <= set(paths)


def test_it_rejects_an_inverted_window(traffic: dict[str, Any], now: Any) -> None:
    answer = client_for(traffic["staff"]).get(
        "/api/analytics/summary",
        {"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()},
    )
    assert answer.status_code == 400
