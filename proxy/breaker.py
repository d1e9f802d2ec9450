"""Circuit breakers, one per route target, held by the process's Runtime.

A target that fails `ROUTING_BREAKER_FAILURES` times in a row (retryable
failures only: 429, 5xx, timeouts, connection errors) is sidelined for
`ROUTING_BREAKER_COOLDOWN` seconds. After the cooldown one trial request goes
through (half-open): success closes the breaker, failure opens it again.

The state is per server process: two processes learn about a failing target
independently (each after its own run of failures).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings


@dataclass(slots=True)
class BreakerState:
    failures: int = 0
    open_until: float | None = None
    trial_started: float | None = None


class CircuitBreakers:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[str, BreakerState] = {}

    def allows(self, target: str) -> bool:
        """Whether a request may go to this target now (claims the half-open trial)."""
        state = self._states.get(target)
        if state is None or state.open_until is None:
            return True
        now = self._clock()
        if now < state.open_until:
            return False
        cooldown = settings.ROUTING_BREAKER_COOLDOWN
        if state.trial_started is not None and now - state.trial_started < cooldown:
            return False  # one trial at a time; a lost trial expires after a cooldown
        state.trial_started = now
        return True

    def succeeded(self, target: str) -> None:
        self._states.pop(target, None)

    def failed(self, target: str) -> None:
        state = self._states.setdefault(target, BreakerState())
        state.failures += 1
        half_open = state.trial_started is not None
        if half_open or state.failures >= settings.ROUTING_BREAKER_FAILURES:
            state.open_until = self._clock() + settings.ROUTING_BREAKER_COOLDOWN
            state.trial_started = None

    def reopens_in(self, target: str) -> float:
        """Seconds until a sidelined target gets its trial request (0 when not sidelined)."""
        state = self._states.get(target)
        if state is None or state.open_until is None:
            return 0.0
        return max(0.0, state.open_until - self._clock())

    def sidelined(self) -> dict[str, float]:
        """Sidelined targets and the seconds until each is tried again."""
        return {t: self.reopens_in(t) for t in self._states if self.reopens_in(t) > 0}

    def reset(self) -> None:
        self._states.clear()
