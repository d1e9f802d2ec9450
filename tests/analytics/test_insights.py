"""Insights: plain-language findings from the rollups, on seeded data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from analytics.insights import insights
from analytics.services import rollup_rebuild
from tests.analytics.conftest import log

pytestmark = pytest.mark.django_db


def test_it_says_which_model_is_cut_off_and_what_to_do(now: Any) -> None:
    for n in range(30):
        log(created_at=now, resolved_model="mini", finish_reason="length" if n < 9 else "stop")
    rollup_rebuild(since=now - timedelta(hours=1), until=now + timedelta(minutes=1))
    [finding] = [
        i
        for i in insights(None, now - timedelta(hours=1), now + timedelta(hours=1))
        if i.kind == "truncation"
    ]
    assert (
        finding.text
        == "mini is cut off (finish_reason=length) in 30% of responses: raise max_tokens for it."
    )


def test_it_compares_the_cost_of_models_that_succeed_alike(now: Any) -> None:
    for _ in range(25):
        log(created_at=now, resolved_model="big", cost_usd=Decimal("0.01"))
        log(created_at=now, resolved_model="small", cost_usd=Decimal("0.0025"))
    rollup_rebuild(since=now - timedelta(hours=1), until=now + timedelta(minutes=1))
    found = insights(None, now - timedelta(hours=1), now + timedelta(hours=1))
    [cost] = [i for i in found if i.kind == "cost"]
    assert (
        cost.text == "big costs 4.0× small per request with a similar success rate (100% vs 100%)."
    )


def test_it_stays_silent_on_too_little_traffic(now: Any) -> None:
    for _ in range(5):
        log(
            created_at=now,
            resolved_model="mini",
            finish_reason="length",
            provider="flaky",
            status_code=500,
        )
    rollup_rebuild(since=now - timedelta(hours=1), until=now + timedelta(minutes=1))
    assert insights(None, now - timedelta(hours=1), now + timedelta(hours=1)) == []


def test_it_flags_a_failing_provider(now: Any) -> None:
    for n in range(20):
        log(created_at=now, provider="flaky", status_code=502 if n < 4 else 200)
    rollup_rebuild(since=now - timedelta(hours=1), until=now + timedelta(minutes=1))
    found = insights(None, now - timedelta(hours=1), now + timedelta(hours=1))
    assert [i.text for i in found if i.kind == "provider_errors"] == [
        "Provider flaky failed 20% of 20 requests."
    ]


def test_seeded_logs_roll_up_and_yield_findings() -> None:
    from analytics.models import HourRollup
    from proxy.models import RequestLog

    call_command("seed_logs", rows=2000, days=2, namespaces=2, keys=1)
    assert RequestLog.objects.count() == 2000
    assert sum(HourRollup.objects.values_list("requests", flat=True)) == 2000
    from django.utils import timezone

    found = insights(None, timezone.now() - timedelta(days=3), timezone.now())
    texts = " ".join(i.text for i in found)
    assert "gpt-4o-mini is cut off" in texts  # seeded with 25% truncation
    assert any(i.kind == "cost" for i in found)
