"""The circuit breaker of one target, on a clock the test controls."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.breaker import CircuitBreakers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(settings: Any) -> Clock:
    settings.ROUTING_BREAKER_FAILURES = 3
    settings.ROUTING_BREAKER_COOLDOWN = 10.0
    return Clock()


def test_it_opens_after_the_configured_failures_in_a_row(clock: Clock) -> None:
    breakers = CircuitBreakers(clock)
    breakers.failed("a")
    breakers.failed("a")
    assert breakers.allows("a")
    breakers.failed("a")
    assert not breakers.allows("a")
    assert breakers.allows("b")
    assert breakers.sidelined() == {"a": 10.0}


def test_a_success_resets_the_count(clock: Clock) -> None:
    breakers = CircuitBreakers(clock)
    breakers.failed("a")
    breakers.failed("a")
    breakers.succeeded("a")
    breakers.failed("a")
    breakers.failed("a")
    assert breakers.allows("a")


def test_after_the_cooldown_one_trial_goes_through_and_a_success_closes_it(clock: Clock) -> None:
    breakers = CircuitBreakers(clock)
    for _ in range(3):
        breakers.failed("a")
    clock.now += 10
    assert breakers.allows("a")  # the trial
    assert not breakers.allows("a")  # only one at a time
    breakers.succeeded("a")
    assert breakers.allows("a") and breakers.allows("a")


def test_a_failed_trial_opens_it_again_at_once(clock: Clock) -> None:
    breakers = CircuitBreakers(clock)
    for _ in range(3):
        breakers.failed("a")
    clock.now += 10
    assert breakers.allows("a")
    breakers.failed("a")
    assert not breakers.allows("a")
    assert breakers.reopens_in("a") == 10.0


def test_a_lost_trial_expires_after_a_cooldown(clock: Clock) -> None:
    breakers = CircuitBreakers(clock)
    for _ in range(3):
        breakers.failed("a")
    clock.now += 10
    assert breakers.allows("a")  # its request never reports back (client went away)
    clock.now += 5
    assert not breakers.allows("a")
    clock.now += 5
    assert breakers.allows("a")
