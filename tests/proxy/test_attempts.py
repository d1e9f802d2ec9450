"""How long a retry waits: backoff with jitter, Retry-After, and the ceiling."""

from __future__ import annotations

import random
from typing import Any

from proxy.errors import UpstreamError
from proxy.services.attempts import retry_wait


def failure(retry_after: float | None = None) -> UpstreamError:
    return UpstreamError(
        provider="p", status=502, message="x", retryable=True, retry_after=retry_after
    )


def test_backoff_doubles_with_each_retry_and_stays_under_the_ceiling(settings: Any) -> None:
    settings.ROUTING_BACKOFF_BASE = 0.25
    settings.ROUTING_MAX_RETRY_WAIT = 1.5
    rng = random.Random(3)
    for retry, (low, high) in enumerate([(0.125, 0.25), (0.25, 0.5), (0.5, 1.0), (0.75, 1.5)]):
        waits = [retry_wait(failure(), retry, rng) for _ in range(200)]
        assert all(w is not None and low <= w <= high for w in waits)
        assert len(set(waits)) > 100  # jittered


def test_retry_after_is_honoured_up_to_the_ceiling(settings: Any) -> None:
    settings.ROUTING_MAX_RETRY_WAIT = 5
    rng = random.Random(0)
    assert retry_wait(failure(retry_after=2), 0, rng) == 2
    assert retry_wait(failure(retry_after=5), 3, rng) == 5
    assert retry_wait(failure(retry_after=6), 0, rng) is None
