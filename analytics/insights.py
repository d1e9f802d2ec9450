"""Plain-language findings computed from the rollups, shown on the overview.

Each finder reads breakdowns and returns zero or more `Insight`s; thresholds are
module constants so the tests can state them. No finding is invented: each needs
`MIN_REQUESTS` requests behind it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from analytics.selectors import Filters, Scope, breakdown

MIN_REQUESTS = 20
TRUNCATION_RATE = 0.10
COST_RATIO = 2.0
SIMILAR_SUCCESS = 0.03
PROVIDER_ERROR_RATE = 0.05


@dataclass
class Insight:
    kind: str
    severity: str  # info | warning
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def truncation(models: list[dict[str, Any]]) -> list[Insight]:
    found = []
    for row in models:
        if row["requests"] < MIN_REQUESTS:
            continue
        rate = row["truncated"] / row["requests"]
        if rate >= TRUNCATION_RATE:
            found.append(
                Insight(
                    "truncation",
                    "warning",
                    f"{row['key']} is cut off (finish_reason=length) in {_pct(rate)} of "
                    f"responses: raise max_tokens for it.",
                    {"model": row["key"], "rate": round(rate, 4), "requests": row["requests"]},
                )
            )
    return found


def cost_comparison(models: list[dict[str, Any]]) -> list[Insight]:
    priced = [row for row in models if row["requests"] >= MIN_REQUESTS and row["cost_usd"] > 0]
    if len(priced) < 2:
        return []
    for row in priced:
        row["per_request"] = row["cost_usd"] / row["requests"]
        row["success"] = 1 - row["error_rate"]
    dearest = max(priced, key=lambda r: r["per_request"])
    cheapest = min(priced, key=lambda r: r["per_request"])
    ratio = dearest["per_request"] / cheapest["per_request"]
    if ratio < COST_RATIO or abs(dearest["success"] - cheapest["success"]) > SIMILAR_SUCCESS:
        return []
    return [
        Insight(
            "cost",
            "info",
            f"{dearest['key']} costs {ratio:.1f}× {cheapest['key']} per request with a similar "
            f"success rate ({_pct(dearest['success'])} vs {_pct(cheapest['success'])}).",
            {"dearer": dearest["key"], "cheaper": cheapest["key"], "ratio": round(ratio, 2)},
        )
    ]


def provider_errors(providers: list[dict[str, Any]]) -> list[Insight]:
    return [
        Insight(
            "provider_errors",
            "warning",
            f"Provider {row['key']} failed {_pct(row['error_rate'])} of {row['requests']} requests.",
            {"provider": row["key"], "rate": row["error_rate"]},
        )
        for row in providers
        if row["key"]
        and row["requests"] >= MIN_REQUESTS
        and row["error_rate"] >= PROVIDER_ERROR_RATE
    ]


def insights(
    scope: Scope, start: datetime, end: datetime, filters: Filters | None = None
) -> list[Insight]:
    models = breakdown(scope, start, end, "model", filters)
    providers = breakdown(scope, start, end, "provider", filters)
    return truncation(models) + cost_comparison(models) + provider_errors(providers)
