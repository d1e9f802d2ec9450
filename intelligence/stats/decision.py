"""The experiment decision rule: one pure function over per-arm counts.

Each treatment arm is compared with control by the mSPRT (`sequential.py`) at
level alpha / k for k treatment arms (Bonferroni), so the chance of declaring any
false winner stays ≤ alpha however often the job looks.

- Guardrails first: an arm whose error rate is surely higher than control's
  (the always-valid interval of the difference lies above 0, and the estimate is
  at least the tolerated increase), or whose mean cost is surely higher by more
  than the tolerated fraction, is stopped.
- A treatment whose success-rate interval lies above 0 wins: promote it (the one
  with the largest estimated lift if several).
- A treatment whose interval lies below 0 loses and is stopped.
- When no treatment is left, or every one reached the maximum sample size
  without a winner, roll back (keep control).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intelligence.stats.sequential import DEFAULT_TAU, compare_means, compare_rates


@dataclass(frozen=True, slots=True)
class ArmData:
    name: str
    samples: int
    successes: int
    errors: int = 0
    cost_sum: float = 0.0
    cost_sq: float = 0.0
    is_control: bool = False
    stopped: bool = False
    success_variance: float | None = None  # clustered by unit, when known
    error_variance: float | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    alpha: float = 0.05
    tau: float = DEFAULT_TAU
    min_samples: int = 200
    max_samples: int = 6000
    error_increase: float = 0.02
    cost_increase: float = 0.5


@dataclass(frozen=True)
class Decision:
    action: str  # continue | stop_arm | promote | rollback
    arm: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _guardrail(control: ArmData, arm: ArmData, policy: Policy, alpha: float) -> str:
    errors = compare_rates(
        control.errors,
        control.samples,
        arm.errors,
        arm.samples,
        alpha=alpha,
        clustered=(control.error_variance, arm.error_variance),
    )
    if errors.difference.low > 0 and errors.difference.estimate >= policy.error_increase:
        return (
            f"error rate {arm.errors / arm.samples:.1%} is surely above control's "
            f"{control.errors / control.samples:.1%}"
        )
    control_mean = control.cost_sum / control.samples if control.samples else 0.0
    if control_mean > 0:
        cost = compare_means(
            (control.cost_sum, control.cost_sq, control.samples),
            (arm.cost_sum, arm.cost_sq, arm.samples),
            alpha=alpha,
            tau=control_mean * policy.cost_increase,
        )
        if cost.difference.low > control_mean * policy.cost_increase:
            return f"mean cost is surely over {1 + policy.cost_increase:.0%} of control's"
    return ""


def decide(arms: list[ArmData], policy: Policy) -> Decision:
    control = next((a for a in arms if a.is_control), None)
    if control is None:
        return Decision("continue", reason="no control arm")
    live = [a for a in arms if not a.is_control and not a.stopped]
    if not live:
        return Decision("rollback", reason="no treatment arm is left")
    alpha = policy.alpha / len(live)
    winners: list[tuple[float, ArmData, Any]] = []
    details: dict[str, Any] = {}
    for arm in live:
        if arm.samples < policy.min_samples or control.samples < policy.min_samples:
            continue
        broken = _guardrail(control, arm, policy, alpha)
        if broken:
            return Decision("stop_arm", arm.name, f"guardrail: {broken}")
        result = compare_rates(
            control.successes,
            control.samples,
            arm.successes,
            arm.samples,
            alpha=alpha,
            tau=policy.tau,
            clustered=(control.success_variance, arm.success_variance),
        )
        details[arm.name] = {
            "difference": result.difference.estimate,
            "low": result.difference.low,
            "high": result.difference.high,
            "p_value": result.p_value,
        }
        if result.difference.low > 0:
            winners.append((result.difference.estimate, arm, result))
        elif result.difference.high < 0:
            return Decision(
                "stop_arm",
                arm.name,
                f"success rate is surely lower than control's (p = {result.p_value:.4f})",
                details,
            )
    if winners:
        lift, best, result = max(winners, key=lambda w: w[0])
        return Decision(
            "promote",
            best.name,
            f"success rate {lift:+.1%} over control (always-valid p = {result.p_value:.4f})",
            details,
        )
    if all(a.samples >= policy.max_samples for a in live):
        return Decision("rollback", reason="maximum sample size reached without a winner")
    return Decision("continue", details=details)
