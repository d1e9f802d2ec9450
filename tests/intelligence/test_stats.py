"""Statistics rollups: hourly rows, all-time summaries, idempotent."""

from __future__ import annotations

from intelligence.models import Pattern, PatternStat
from intelligence.services.stats import rollup
from tests.conftest import Gateway
from tests.intelligence.conftest import ask, learn_now


def test_rollups_are_idempotent_and_summaries_add_up(gateway: Gateway) -> None:
    gateway.fake.then(finish_reason="length")
    for city in ("Paris", "Rome", "Oslo", "Lima"):
        ask(gateway, f"Plan a weekend in {city} with a small budget")
    learn_now(gateway, 4)
    before = list(PatternStat.objects.values())
    assert rollup() == 1 and rollup() == 1
    assert list(PatternStat.objects.values()) == before
    stat = PatternStat.objects.get()
    assert (stat.requests, stat.successes, stat.truncations) == (4, 3, 1)
    assert stat.prompt_tokens > 0 and stat.latency_ms_sum > 0
    pattern = Pattern.objects.get()
    assert pattern.requests == 4
    assert pattern.success_rate == 0.75 and pattern.truncation_rate == 0.25
    assert pattern.avg_tokens and pattern.avg_latency_ms
    assert pattern.trend is None  # nothing the day before
