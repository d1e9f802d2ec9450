"""Stage "limits": budgets and rate limits, checked before the request, settled after.

Rate limits are sliding one-minute windows over shared counters (`proxy.counters`),
counted per clock minute: what was used in the last 60 seconds is estimated as this
minute's count plus the previous minute's, weighted by the share of it still inside
the last 60 seconds (a burst at the end of one minute counts against the start of
the next, so no boundary lets twice the limit through):
- requests: the request is counted first; it is refused (and uncounted) when the
  requests before it already reach the limit, so with an idle previous minute
  exactly `requests_per_minute` get through;
- tokens: the request's estimated prompt tokens are reserved first; a request is
  admitted while the tokens used (reservations included) are below the limit;
  after the response the reservation is replaced by the actual usage (prompt +
  completion tokens).
Budgets: a request is admitted while the spend of the period, plus what requests
in flight hold, is below the budget. Once routed, a request holds its estimated
cost (estimated prompt tokens, and `max_tokens` or `BUDGET_HOLD_OUTPUT_TOKENS`, at
its target's prices) in a hold counter that expires by itself (so a crashed
process cannot hold spend for ever); when its actual cost is known (end of the
response or of the stream) the cost goes to the spend and the hold is released.
Check and hold are two steps: concurrent requests that check within the same
instant may still overshoot together, but no longer by every request in flight.
Spend lives in the shared cache and is seeded, once per period and cache
lifetime, from the request log (the durable record).

Both apply to the key and to its namespace. Refusals are 429s in the caller's
format with `Retry-After`; admitted requests get OpenAI's `x-ratelimit-*` headers.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from proxy.call import Call
from proxy.config import NO_LIMITS, KeyInfo, LimitsInfo
from proxy.counters import Counters
from proxy.errors import ProxyError
from proxy.runtime import Runtime
from proxy.selectors import period_end, period_start, spend_since
from proxy.services.costs import estimate_cost

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
NANOS = Decimal(10**9)  # spend is counted in nano-dollars (integers, for atomic incr)
BUDGET_TTL = {"day": 2 * 86400, "month": 40 * 86400, "total": None}
HOLD_BUCKET_SECONDS = 300  # holds are counted in 5-minute buckets; three are read
HOLD_TTL = 3 * HOLD_BUCKET_SECONDS


@dataclass(slots=True)
class Ledger:
    """What a request reserved, to settle once its usage and cost are known."""

    estimate: int = 0
    token_keys: list[str] = field(default_factory=list)
    spend_keys: list[tuple[str, float | None]] = field(default_factory=list)
    holds: list[tuple[str, int]] = field(default_factory=list)  # (hold counter, nano-dollars)
    settled: bool = False


def scopes(key: KeyInfo) -> tuple[tuple[str, int, LimitsInfo], ...]:
    return (("key", key.id, key.limits), ("namespace", key.namespace_id, key.namespace_limits))


def duration(seconds: float) -> str:
    """OpenAI's reset format: `250ms`, `12s`, `1m5s`."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


def estimate_prompt_tokens(body_bytes: int) -> int:
    """About four bytes of JSON per token: cheap, and reconciled with the real count after."""
    return max(1, body_bytes // 4)


def rate_limited(what: str, scope: str, limit: int, reset: float) -> ProxyError:
    return ProxyError(
        429,
        "rate_limit",
        f"Rate limit reached: {limit} {what} per minute for this {scope}. "
        f"Try again in {duration(reset)}.",
        code="rate_limit_exceeded",
        headers={
            "retry-after": str(math.ceil(reset)),
            f"x-ratelimit-limit-{what}": str(limit),
            f"x-ratelimit-remaining-{what}": "0",
            f"x-ratelimit-reset-{what}": duration(reset),
        },
    )


def wait_for_room(limit: int, previous: int, current: int, elapsed: float) -> float:
    """Seconds until the sliding estimate, `previous` weighted by what is left of it plus
    `current`, drops below `limit` (no new traffic meanwhile)."""
    if current < limit:
        # previous * (1 - e / W) + current < limit  ⇔  e > W * (1 - (limit - current) / previous)
        needed = WINDOW_SECONDS * (1 - (limit - current) / previous) if previous else 0.0
        return max(needed - elapsed, 0.001)
    # Only the next minute lets it go: there, this minute is the one that fades out.
    return WINDOW_SECONDS - elapsed + WINDOW_SECONDS * (1 - limit / current)


def admit_rates(call: Call, counters: Counters, now: float, ledger: Ledger) -> None:
    """Count the request and reserve its estimated tokens in every applicable window, at once.

    A counter refuses when what was used before this request in the last 60 seconds
    (sliding estimate) already reached the limit; on refusal every increment of this
    request is taken back.
    """
    window = int(now // WINDOW_SECONDS)
    elapsed = now % WINDOW_SECONDS
    still_inside = 1 - elapsed / WINDOW_SECONDS  # share of the previous minute in the last 60 s
    # OpenAI's reset: until the limit is back to its initial state, once this minute's
    # count (this request's included) has faded out of the next minute's window.
    reset = 2 * WINDOW_SECONDS - elapsed
    ttl = WINDOW_SECONDS * 2  # the previous minute's counter is read during this one
    planned: list[tuple[str, str, int, str, int]] = []  # what, scope, limit, counter, delta
    for scope, scope_id, limits in scopes(call.key):  # type: ignore[arg-type]
        if limits.requests_per_minute is not None:
            name = f"llmproxy:rl:{scope}:{scope_id}:requests"
            planned.append(("requests", scope, limits.requests_per_minute, name, 1))
        if limits.tokens_per_minute is not None:
            name = f"llmproxy:rl:{scope}:{scope_id}:tokens"
            planned.append(("tokens", scope, limits.tokens_per_minute, name, ledger.estimate))
    if not planned:
        return
    values, previous = counters.incr_many_and_get(
        [(f"{name}:{window}", delta, ttl) for _, _, _, name, delta in planned],
        [f"{name}:{window - 1}" for _, _, _, name, _ in planned],
    )
    refusal: tuple[float, str, str, int] | None = None  # the longest wait of those refusing
    tightest: dict[str, tuple[int, int]] = {}
    counted = []
    for (what, scope, limit, name, delta), value, before in zip(
        planned, values, previous, strict=True
    ):
        if value is None:
            continue  # the cache is down: rate limits fail open
        counted.append((what, f"{name}:{window}", delta))
        carried = (before or 0) * still_inside
        if carried + value - delta >= limit:
            wait = wait_for_room(limit, before or 0, value - delta, elapsed)
            if refusal is None or wait > refusal[0]:
                refusal = (wait, what, scope, limit)
        remaining = max(0, math.floor(limit - carried - value))
        if what not in tightest or remaining < tightest[what][1]:
            tightest[what] = (limit, remaining)
    if refusal is not None:
        counters.incr_many([(name, -delta, ttl) for _, name, delta in counted])
        wait, what, scope, limit = refusal
        raise rate_limited(what, scope, limit, wait)
    ledger.token_keys = [name for what, name, _ in counted if what == "tokens"]
    headers = call.response_headers
    for what, (limit, remaining) in tightest.items():
        headers[f"x-ratelimit-limit-{what}"] = str(limit)
        headers[f"x-ratelimit-remaining-{what}"] = str(remaining)
        headers[f"x-ratelimit-reset-{what}"] = duration(reset)


def budget_key(scope: str, scope_id: int, period: str, start: datetime) -> str:
    return f"llmproxy:spend:{scope}:{scope_id}:{period}:{int(start.timestamp())}"


def hold_key(spend_key: str, bucket: int) -> str:
    return f"{spend_key}:held:{bucket}"


def hold_keys(spend_key: str, now: float) -> list[str]:
    """The hold counters a check adds up: this bucket and the two before it."""
    bucket = int(now // HOLD_BUCKET_SECONDS)
    return [hold_key(spend_key, bucket - back) for back in range(3)]


def budgets_unavailable() -> None:
    """The spend cannot be known (cache or database down): admit, or refuse if configured."""
    if settings.BUDGETS_FAIL_CLOSED:
        raise ProxyError(
            503, "overloaded", "Budgets cannot be checked right now.", code="budget_unavailable"
        )


async def check_budgets(call: Call, runtime: Runtime, ledger: Ledger) -> None:
    now = datetime.now(UTC)
    wanted = []
    for scope, scope_id, limits in scopes(call.key):  # type: ignore[arg-type]
        if limits.budget_usd is None:
            continue
        start = period_start(limits.budget_period, now)
        name = budget_key(scope, scope_id, limits.budget_period, start)
        wanted.append((scope, scope_id, limits, start, name))
        ledger.spend_keys.append((name, BUDGET_TTL[limits.budget_period]))
    if not wanted:
        return
    counters = runtime.counters
    holds = {w[4]: hold_keys(w[4], now.timestamp()) for w in wanted}
    known = counters.get_many([w[4] for w in wanted] + [k for keys in holds.values() for k in keys])
    if known is None:
        budgets_unavailable()
        return
    for scope, scope_id, limits, start, name in wanted:
        held = sum(int(known.get(key) or 0) for key in holds[name])
        spent = known.get(name)
        if spent is None:  # first request of the period since the cache started
            try:
                persisted = await runtime.run_on_db_thread(spend_since, scope, scope_id, start)
            except DatabaseError:  # the spend so far is unknown: not seeded, asked again later
                log.warning(
                    "budget of %s %s unchecked: the database is unreachable", scope, scope_id
                )
                budgets_unavailable()
                continue
            spent = int(persisted * NANOS)
            counters.seed(name, spent, BUDGET_TTL[limits.budget_period])
        budget = limits.budget_usd
        assert budget is not None
        if spent + held >= budget * NANOS:
            end = period_end(limits.budget_period, now)
            raise ProxyError(
                429,
                "budget_exceeded",
                f"The {limits.budget_period} budget of this {scope} (${budget}) is spent "
                f"(${Decimal(spent) / NANOS:.6f}, and ${Decimal(held) / NANOS:.6f} held by"
                " requests in flight).",
                code="budget_exceeded",
                headers={"retry-after": str(math.ceil((end - now).total_seconds()))} if end else {},
            )


async def enforce_limits(call: Call, runtime: Runtime, *, body_bytes: int) -> None:
    """Stage "limits": refuse with a 429, or admit and remember what to settle."""
    key = call.key
    if key is None or (key.limits is NO_LIMITS and key.namespace_limits is NO_LIMITS):
        return
    ledger = call.ledger = Ledger(estimate=estimate_prompt_tokens(body_bytes))
    await check_budgets(call, runtime, ledger)
    admit_rates(call, runtime.counters, time.time(), ledger)


def output_tokens_asked(body: dict[str, Any]) -> int:
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return int(settings.BUDGET_HOLD_OUTPUT_TOKENS)


def hold_budget(call: Call, runtime: Runtime) -> None:
    """Once routed, hold the request's estimated cost against its budgets until it settles."""
    ledger = call.ledger
    if ledger is None or not ledger.spend_keys or not call.plan:
        return
    output = output_tokens_asked(call.body)
    costs = [
        cost
        for target in call.plan
        if (cost := estimate_cost(call, target, ledger.estimate, output)) is not None
    ]
    estimate = max(costs, default=None)  # the dearest target the request may fall back to
    if not estimate:
        return  # an unknown price holds nothing, as it spends nothing
    nanos = int(estimate * NANOS)
    bucket = int(time.time() // HOLD_BUCKET_SECONDS)
    wanted = [(hold_key(name, bucket), nanos, HOLD_TTL) for name, _ in ledger.spend_keys]
    values = runtime.counters.incr_many(wanted)
    ledger.holds = [
        (key, nanos) for (key, _, _), value in zip(wanted, values, strict=True) if value
    ]


def settle_limits(call: Call, runtime: Runtime) -> None:
    """Replace the token reservation with the actual usage; add the cost to the spend."""
    ledger = call.ledger
    if ledger is None or ledger.settled:
        return
    ledger.settled = True
    counters = runtime.counters
    usage = call.usage
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        actual = ledger.estimate if call.status < 400 else 0
    else:
        actual = (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
    if actual != ledger.estimate:
        delta = actual - ledger.estimate
        counters.incr_many([(name, delta, WINDOW_SECONDS * 2) for name in ledger.token_keys])
    changes = [(key, -nanos, HOLD_TTL) for key, nanos in ledger.holds]  # released
    if call.cost_usd:
        nanos = int(call.cost_usd * NANOS)
        # A spend counter gone from the cache is seeded again from the request log,
        # which will hold this request: never restart it from zero here.
        changes += [(name, nanos, ttl) for name, ttl in ledger.spend_keys]
    if changes:  # an expired hold is not created again below zero
        counters.incr_many(changes, create=False)
