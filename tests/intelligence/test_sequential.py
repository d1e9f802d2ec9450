"""The decision rule's guarantees, by simulation: few false winners, enough power.

Each simulated experiment is looked at every 50 samples per arm (as the job would),
through the same `decide` function the service uses, until it decides or reaches
its maximum sample size. Seeds are fixed, so the figures are reproducible.
"""

from __future__ import annotations

import math

import numpy as np

from intelligence.stats.decision import ArmData, Policy, decide
from intelligence.stats.sequential import compare_rates, mean_interval, msprt, wilson

LOOK_EVERY = 50
STATED_SAMPLES_PER_ARM = 3000  # docs/enhancements.md: 80% power for +10% on 50%


def simulate(
    p_control: float, p_treatment: float, runs: int, max_samples: int, seed: int
) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    policy = Policy(alpha=0.05, min_samples=200, max_samples=max_samples)
    looks = max_samples // LOOK_EVERY
    outcomes: dict[str, int] = {}
    control_counts = rng.binomial(LOOK_EVERY, p_control, (runs, looks)).cumsum(axis=1)
    treatment_counts = rng.binomial(LOOK_EVERY, p_treatment, (runs, looks)).cumsum(axis=1)
    for run in range(runs):
        verdict = "none"
        for look in range(looks):
            n = (look + 1) * LOOK_EVERY
            decision = decide(
                [
                    ArmData("control", n, int(control_counts[run, look]), is_control=True),
                    ArmData("treatment", n, int(treatment_counts[run, look])),
                ],
                policy,
            )
            if decision.action != "continue":
                verdict = decision.action
                break
        outcomes[verdict] = outcomes.get(verdict, 0) + 1
    return outcomes


def test_aa_experiments_declare_a_false_winner_in_at_most_5_percent_of_runs() -> None:
    runs = 1000
    outcomes = simulate(0.5, 0.5, runs, max_samples=6000, seed=11)
    false_winners = outcomes.get("promote", 0) / runs
    false_decisions = (outcomes.get("promote", 0) + outcomes.get("stop_arm", 0)) / runs
    assert false_winners <= 0.05
    assert false_decisions <= 0.05  # two-sided: winners and losers together
    assert outcomes.get("rollback", 0) / runs >= 0.9  # the rest end inconclusive


def test_aa_holds_at_a_low_base_rate_too() -> None:
    outcomes = simulate(0.1, 0.1, 600, max_samples=4000, seed=12)
    assert outcomes.get("promote", 0) / 600 <= 0.05


def test_a_10_percent_lift_on_50_percent_is_found_with_80_percent_power() -> None:
    runs = 500
    outcomes = simulate(0.5, 0.55, runs, max_samples=STATED_SAMPLES_PER_ARM, seed=13)
    assert outcomes.get("promote", 0) / runs >= 0.8
    assert outcomes.get("stop_arm", 0) / runs <= 0.01  # almost never the wrong direction


def test_a_harmful_arm_is_stopped_as_a_loser() -> None:
    outcomes = simulate(0.5, 0.4, 200, max_samples=3000, seed=14)
    assert outcomes.get("stop_arm", 0) / 200 >= 0.95


def test_guardrails_stop_an_arm_that_errors_or_costs_more() -> None:
    policy = Policy(min_samples=200)
    n = 2000
    cheap = {"cost_sum": 0.001 * n, "cost_sq": (0.001**2 + 0.0002**2) * n}
    control = ArmData("control", n, 1000, errors=20, is_control=True, **cheap)
    erring = ArmData("treatment", n, 1000, errors=200, **cheap)
    decision = decide([control, erring], policy)
    assert decision.action == "stop_arm" and "error rate" in decision.reason
    costly = ArmData(
        "treatment", n, 1000, errors=20, cost_sum=0.004 * n, cost_sq=(0.004**2 + 0.0002**2) * n
    )
    decision = decide([control, costly], policy)
    assert decision.action == "stop_arm" and "cost" in decision.reason
    same = ArmData("treatment", n, 1000, errors=20, **cheap)
    assert decide([control, same], policy).action == "continue"


def test_no_decision_before_the_minimum_sample_size() -> None:
    arms = [ArmData("control", 100, 10, is_control=True), ArmData("treatment", 100, 90)]
    assert decide(arms, Policy(min_samples=200)).action == "continue"


def test_the_always_valid_interval_is_wider_than_a_fixed_one_and_shrinks() -> None:
    small = compare_rates(500, 1000, 550, 1000, alpha=0.05)
    large = compare_rates(5000, 10000, 5500, 10000, alpha=0.05)
    fixed_half = 1.96 * math.sqrt(2 * 0.25 / 1000)
    assert small.difference.high - small.difference.estimate > fixed_half
    assert (
        large.difference.high - large.difference.low < small.difference.high - small.difference.low
    )
    assert large.p_value < 0.001 < small.p_value
    assert msprt(0.0, 0.0, alpha=0.05).p_value == 1.0


def test_per_arm_intervals() -> None:
    rate = wilson(50, 100)
    assert rate.low < 0.5 < rate.high and 0.39 < rate.low < 0.41
    assert wilson(0, 10).low == 0.0
    mean = mean_interval(total=100.0, squares=100.0 * 1.0 + 99 * 0.0, n=100)
    assert mean.estimate == 1.0


def simulate_sessions(runs: int, seed: int, clustered: bool) -> float:
    """A/A with sticky sessions that differ: 60 sessions per arm, each with its own success
    rate (Beta(1, 1)), each sending 5 more requests between looks. Returns the share of
    runs that declared any winner or loser."""
    from intelligence.stats.sequential import clustered_rate_variance

    rng = np.random.default_rng(seed)
    sessions, per_look, looks = 60, 5, 30
    policy = Policy(alpha=0.05, min_samples=200, max_samples=10**9)
    false = 0
    for _ in range(runs):
        counts = []
        for _arm in range(2):
            rates = rng.beta(1, 1, sessions)
            counts.append(rng.binomial(per_look, rates[:, None], (sessions, looks)).cumsum(axis=1))
        for look in range(looks):
            n = (look + 1) * per_look
            arms = []
            for index, arm_counts in enumerate(counts):
                hits = arm_counts[:, look]
                variance = (
                    clustered_rate_variance([(n, int(h)) for h in hits]) if clustered else None
                )
                arms.append(
                    ArmData(
                        "control" if index == 0 else "treatment",
                        n * sessions,
                        int(hits.sum()),
                        is_control=index == 0,
                        success_variance=variance,
                    )
                )
            if decide(arms, policy).action in ("promote", "stop_arm"):
                false += 1
                break
    return false / runs


def test_sticky_sessions_do_not_inflate_false_decisions_thanks_to_clustering() -> None:
    naive = simulate_sessions(300, seed=21, clustered=False)
    clustered = simulate_sessions(300, seed=21, clustered=True)
    assert naive > 0.2  # treating a session's requests as independent would be wrong
    assert clustered <= 0.05


def test_the_clustered_variance_of_independent_requests_is_the_usual_one() -> None:
    from intelligence.stats.sequential import clustered_rate_variance

    units = [(1, 1)] * 300 + [(1, 0)] * 700
    assert math.isclose(clustered_rate_variance(units) or 0, 0.3 * 0.7 / 1000, rel_tol=0.01)
    assert clustered_rate_variance([(5, 2)]) is None
