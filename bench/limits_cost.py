"""What the rate-limit and budget checks cost per request, in process, with the local cache.

    env -u REDIS_URL python bench/limits_cost.py [--n 20000]

Measures the worst case: a key and its namespace both with requests-per-minute,
tokens-per-minute and a budget (four counter increments and one multi-get
before the request, the budget hold once routed (an estimated cost from genai-prices
and two increments), three increments and two releases after). The budget counters are seeded
first, as after the first request of a period. Prints p50/p99 in microseconds
for the check before the request, the settlement after it, both together, and
the cost computation (genai-prices) that runs after the response.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

import django

django.setup()

from proxy.call import Call  # noqa: E402
from proxy.config import KeyInfo, LimitsInfo, ProviderInfo, TargetInfo  # noqa: E402
from proxy.providers import Usage  # noqa: E402
from proxy.runtime import get_runtime  # noqa: E402
from proxy.selectors import period_start  # noqa: E402
from proxy.services.costs import price_call  # noqa: E402
from proxy.services.limits import (  # noqa: E402
    BUDGET_TTL,
    budget_key,
    enforce_limits,
    hold_budget,
    settle_limits,
)

LIMITS = LimitsInfo(
    requests_per_minute=10**9,
    tokens_per_minute=10**12,
    budget_usd=Decimal("1000000"),
    budget_period="month",
)
KEY = KeyInfo(
    id=1,
    name="bench",
    prefix="lp-bench",
    namespace_id=1,
    namespace="bench",
    state="active",
    allowed_models=(),
    expires_at=None,
    limits=LIMITS,
    namespace_limits=LIMITS,
)
TARGET = TargetInfo(
    provider=ProviderInfo(
        id=1,
        name="openai",
        kind="openai",
        base_url="http://127.0.0.1:9",
        api_key="",
        timeout_seconds=None,
        extra_headers={},
        models=(),
    ),
    model="gpt-4o",
)


def percentiles(samples: list[float]) -> str:
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99)]
    return f"p50 {p50:7.1f} µs   p99 {p99:7.1f} µs"


async def measure(n: int) -> None:
    runtime = get_runtime()
    start = period_start("month", datetime.now(UTC))
    for scope in ("key", "namespace"):
        runtime.counters.seed(budget_key(scope, 1, "month", start), 0, BUDGET_TTL["month"])
    before: list[float] = []
    holding: list[float] = []
    after: list[float] = []
    pricing: list[float] = []
    for _ in range(n):
        call = Call(api_format="openai", endpoint="chat", headers={})
        call.key = KEY
        t0 = time.perf_counter_ns()
        await enforce_limits(call, runtime, body_bytes=2000)
        t1 = time.perf_counter_ns()
        call.plan = [TARGET]
        hold_budget(call, runtime)
        held = time.perf_counter_ns()
        holding.append((held - t1) / 1000)
        call.target = TARGET
        call.usage = Usage(prompt_tokens=480, completion_tokens=120, cached_tokens=100)
        t2 = time.perf_counter_ns()
        price_call(call)
        t3 = time.perf_counter_ns()
        settle_limits(call, runtime)
        t4 = time.perf_counter_ns()
        before.append((t1 - t0) / 1000)
        pricing.append((t3 - t2) / 1000)
        after.append((t4 - t3) / 1000)
    both = [b + h + a for b, h, a in zip(before, holding, after, strict=True)]
    print(f"cache backend: {type(runtime.counters.cache).__name__}, {n} requests")
    print(f"limits + budget check (before):    {percentiles(before)}")
    print(f"budget hold (once routed):         {percentiles(holding)}")
    print(f"limits + budget settle (after):    {percentiles(after)}")
    print(f"check + hold + settle together:    {percentiles(both)}")
    print(f"cost (genai-prices, after):        {percentiles(pricing)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    asyncio.run(measure(parser.parse_args().n))


if __name__ == "__main__":
    main()
