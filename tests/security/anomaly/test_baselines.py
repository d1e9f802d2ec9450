"""Online baselines: sliding windows, EW statistics, time of day, bounded client sets."""

from __future__ import annotations

from security.anomaly.baselines import (
    MAX_CLIENTS,
    NEW_IPS,
    REQUESTS,
    TOKENS,
    WARM_MINUTES,
    Profile,
    Seed,
)
from tests.security.anomaly.conftest import observation


def test_it_counts_sliding_windows_over_minutes() -> None:
    profile = Profile(minute=0)
    for minute in range(10):
        for _ in range(minute + 1):
            profile.add(observation(at=minute * 60.0, tokens=10), minute)
    # current minute 9 holds 10; minutes 5..8 hold 6+7+8+9; minute 4 (5) counts half.
    assert profile.window(REQUESTS, 1, 0.0) == 10 + 9
    assert profile.window(REQUESTS, 5, 0.5) == 10 + 9 + 8 + 7 + 6 + 5 * 0.5
    assert profile.window(TOKENS, 5, 1.0) == (10 + 9 + 8 + 7 + 6) * 10


def test_its_hour_window_keeps_a_rolling_sum() -> None:
    profile = Profile(minute=0)
    for minute in range(150):
        profile.add(observation(at=minute * 60.0), minute)
    assert profile.window(REQUESTS, 60, 1.0) == 60
    assert profile.window(REQUESTS, 60, 0.0) == 61


def test_it_learns_the_mean_rate_and_forgets_quiet_gaps_in_closed_form() -> None:
    profile = Profile(minute=0)
    for minute in range(1500):
        profile.add(observation(at=minute * 60.0), minute)
        profile.add(observation(at=minute * 60.0 + 30), minute)
    assert 1.9 < profile.mean[REQUESTS] < 2.1
    assert profile.warm and profile.minutes_seen >= WARM_MINUTES
    before = profile.mean[REQUESTS]
    profile.advance(1500 + 5000)  # three and a half quiet days
    assert 0 < profile.mean[REQUESTS] < before / 3


def test_it_learns_which_hours_of_the_day_are_busy() -> None:
    profile = Profile(minute=0)
    for day in range(3):
        for minute in range(9 * 60, 17 * 60):
            at = day * 86400 + minute * 60.0
            profile.add(observation(at=at), int(at // 60))
    profile.advance(3 * 1440)
    assert profile.hour_rate(10) is not None and profile.hour_rate(10) > 0.9
    assert profile.hour_rate(3) == 0.0


def test_it_counts_new_client_ips_once_warm_and_keeps_the_set_bounded() -> None:
    profile = Profile(minute=0)
    profile.add(observation(at=0.0, client_ip="10.0.0.1"), 0)
    assert profile.ring[0][NEW_IPS] == 0  # still learning: nothing is "new" yet
    profile.advance(WARM_MINUTES + 1)
    minute = WARM_MINUTES + 1
    for n in range(MAX_CLIENTS + 10):
        profile.add(observation(at=minute * 60.0, client_ip=f"203.0.113.{n % 250}-{n}"), minute)
    assert len(profile.ips) == MAX_CLIENTS
    assert profile.window(NEW_IPS, 1, 0.0) == MAX_CLIENTS + 10
    assert len(profile.recent_new_ips) == 16


def test_a_seed_starts_a_profile_warm_with_its_clients() -> None:
    seed = Seed(
        mean=[1.0] * 9,
        var=[1.0] * 9,
        hour_mean=[1.0] * 24,
        hour_days=[5] * 24,
        ips=("10.0.0.1",),
        agents=("sdk",),
        minutes=3000,
    )
    profile = Profile(minute=100, seed=seed.scaled(0.5))
    assert profile.warm and profile.mean[REQUESTS] == 0.5
    new_ip, new_agent = profile.add(observation(at=6000.0), 100)
    assert (new_ip, new_agent) == (False, False)
    assert Seed.from_json(seed.to_json()) == seed
