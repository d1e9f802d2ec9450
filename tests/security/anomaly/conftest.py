"""Fixtures for anomaly detection: a clean engine, history in the request log, rules."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from security.anomaly.baselines import Observation


@pytest.fixture
def engine(transactional_db: Any) -> Iterator[Any]:
    from proxy.runtime import get_runtime
    from security.anomaly.engine import get_engine

    engine = get_engine()
    engine.reset()
    get_runtime().invalidate_config()
    yield engine
    engine.reset()
    get_runtime().invalidate_config()


def write_history(
    key: Any,
    *,
    days: float = 3,
    per_minute: float = 0.5,
    ips: tuple[str, ...] = ("127.0.0.1",),
    end: datetime | None = None,
    seed: int = 1,
) -> int:
    """Store `days` of ordinary request logs for `key` (Poisson arrivals), up to `end`."""
    from proxy.models import RequestLog

    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    at = end - timedelta(days=days)
    rows = []
    while True:
        at += timedelta(seconds=rng.expovariate(per_minute / 60))
        if at >= end:
            break
        rows.append(
            RequestLog(
                created_at=at,
                namespace_id=key.namespace_id,
                api_key=key,
                endpoint="chat",
                api_format="openai",
                requested_model="gpt-4o-mini",
                status_code=200,
                latency_ms=20.0,
                prompt_tokens=rng.randint(8, 20),
                completion_tokens=rng.randint(8, 20),
                client_ip=rng.choice(ips),
                user_agent="OpenAI/Python",
            )
        )
    RequestLog.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def observation(key_id: int = 1, namespace_id: int = 1, **kwargs: Any) -> Observation:
    defaults: dict[str, Any] = {
        "at": 0.0,
        "tokens": 30,
        "prompt_tokens": 12,
        "client_ip": "10.0.0.1",
        "user_agent": "sdk",
        "model": "gpt-4o-mini",
    }
    defaults.update(kwargs)
    return Observation(key_id=key_id, namespace_id=namespace_id, **defaults)


def steady(key_id: int, start: float, end: float, every: float, **kwargs: Any) -> list[Observation]:
    """A request every `every` seconds (and a second one at every 7th) from start to end."""
    out = []
    at, n = start, 0
    while at < end:
        out.append(observation(key_id=key_id, at=at, **kwargs))
        n += 1
        if n % 7 == 0:
            out.append(observation(key_id=key_id, at=at + 1, **kwargs))
        at += every
    return out
