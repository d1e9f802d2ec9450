"""Synthetic request logs for benchmarks and tests (`manage.py seed_logs`).

Deterministic for a given seed: a few namespaces and keys, models with different
prices and latencies, ~2% errors, some truncated answers, spread over `days`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from proxy.models import ApiKey, Namespace, RequestLog


@dataclass(frozen=True)
class ModelProfile:
    name: str
    provider: str
    latency_ms: float  # median
    usd_per_1k_tokens: Decimal
    truncation: float  # share of answers cut at max_tokens


MODELS = (
    ModelProfile("gpt-4o", "openai", 900, Decimal("0.0100"), 0.02),
    ModelProfile("gpt-4o-mini", "openai", 450, Decimal("0.0006"), 0.25),
    ModelProfile("claude-sonnet", "anthropic", 1100, Decimal("0.0120"), 0.01),
    ModelProfile("llama-3-70b", "openrouter", 700, Decimal("0.0009"), 0.05),
)


def seed_keys(namespaces: int = 4, keys_per_namespace: int = 2) -> list[ApiKey]:
    from proxy.services.keys import api_key_create, namespace_get_or_create

    keys = []
    for n in range(namespaces):
        namespace = namespace_get_or_create(name=f"seed-{n}")
        existing = list(ApiKey.objects.filter(namespace=namespace, name__startswith="seed-"))
        keys += existing
        for k in range(len(existing), keys_per_namespace):
            keys.append(api_key_create(namespace=namespace, name=f"seed-{k}").key)
    return keys


def seed_logs(
    *,
    rows: int,
    days: float = 30,
    keys: list[ApiKey] | None = None,
    end: datetime | None = None,
    seed: int = 7,
    batch: int = 5000,
) -> tuple[datetime, datetime]:
    """Insert `rows` request logs spread evenly over the `days` before `end`."""
    rng = random.Random(seed)
    keys = keys or seed_keys()
    end = end or timezone.now()
    start = end - timedelta(days=days)
    span = (end - start).total_seconds()
    pending: list[RequestLog] = []
    for index in range(rows):
        key = keys[index % len(keys)]
        model = MODELS[rng.randrange(len(MODELS))]
        failed = rng.random() < 0.02
        prompt = rng.randint(20, 800)
        completion = 0 if failed else rng.randint(10, 600)
        latency = rng.lognormvariate(0, 0.5) * model.latency_ms
        pending.append(
            RequestLog(
                id=uuid.UUID(int=rng.getrandbits(128)).hex,
                created_at=start + timedelta(seconds=span * (index + rng.random()) / rows),
                namespace_id=key.namespace_id,
                api_key_id=key.id,
                endpoint="chat",
                api_format="openai",
                stream=rng.random() < 0.4,
                requested_model=model.name,
                resolved_model=model.name,
                provider=model.provider,
                status_code=rng.choice((500, 502, 429)) if failed else 200,
                error_type="upstream" if failed else "",
                finish_reason=""
                if failed
                else ("length" if rng.random() < model.truncation else "stop"),
                latency_ms=round(latency, 3),
                upstream_ms=round(latency * 0.98, 3),
                overhead_ms=round(rng.uniform(0.3, 2.0), 3),
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=(model.usd_per_1k_tokens * (prompt + completion) / 1000).quantize(
                    Decimal("0.00000001")
                ),
            )
        )
        if len(pending) >= batch:
            RequestLog.objects.bulk_create(pending)
            pending = []
    if pending:
        RequestLog.objects.bulk_create(pending)
    return start, end


def namespaces_seeded() -> list[Namespace]:
    return list(Namespace.objects.filter(name__startswith="seed-"))
