"""Detection: compare what a key (or namespace) does now with its baseline.

`Detector.observe(observation)` updates the subject's profiles and returns the
findings the observation completes, each with its evidence: the metric, the
window, what was observed, what was expected and the ratio, plus a severity.
A finding for the same subject and kind is repeated at most once a minute
while the behaviour lasts (or at once when it gets more severe), so that the
records downstream update instead of storming.

A check fires when the sliding-window total `c` is far above the expected `E`
on three counts at once: a z-score (with a Poisson floor under the learned
variance), a ratio, and an absolute floor. `E` follows the time-of-day profile,
so the evening lull does not make the morning rush look like an attack, and a
burst at an hour that is usually quiet is reported as off-hours use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from security.anomaly.baselines import (
    COST,
    ERRORS,
    METRICS,
    NEW_AGENTS,
    NEW_IPS,
    PROMPT_LOG,
    PROMPTS,
    REQUESTS,
    SECURITY,
    TOKENS,
    Observation,
    Profile,
    Seed,
)
from security.anomaly.findings import Finding, severity_for, severity_rank

REPEAT_SECONDS = 60.0
# Profiles idle for two days are dropped (checked every 10,000 observations); a key
# that comes back starts again from its fitted baseline.
IDLE_MINUTES = 2 * 1440
SWEEP_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Check:
    metric: int
    minutes: int
    floor: float  # the window total must reach this much
    kind: str


CHECKS: tuple[Check, ...] = (
    Check(REQUESTS, 1, 20, "request_rate"),
    Check(REQUESTS, 5, 40, "request_rate"),
    Check(REQUESTS, 60, 12, "request_rate"),
    Check(TOKENS, 1, 4000, "token_rate"),
    Check(TOKENS, 5, 8000, "token_rate"),
    Check(COST, 5, 0.25, "cost_rate"),
    Check(ERRORS, 5, 10, "error_rate"),
    Check(SECURITY, 5, 5, "security_rate"),
    Check(SECURITY, 60, 6, "security_rate"),
)
# New clients: new IPs plus new user agents in 5 minutes, at least one of them an IP.
NEW_CLIENTS_FLOOR = 3
QUIET_HOUR = 0.1
SIZED = (TOKENS, COST)
# Request sizes vary: the standard deviation of one request's tokens (or cost),
# as a multiple of their mean (a conservative coefficient of variation).
SIZE_SPREAD = 1.5  # an hour whose usual rate is under 10% of the day's mean is "off-hours"


@dataclass(frozen=True, slots=True)
class Thresholds:
    z: float = 7.0
    min_ratio: float = 4.0
    prompt_z: float = 8.0
    prompt_min_requests: int = 10


SeedProvider = Callable[[str, int], Seed | None]


class Detector:
    """Profiles for keys and namespaces, fed one observation at a time (one per process)."""

    def __init__(
        self, seeds: SeedProvider | None = None, thresholds: Thresholds | None = None
    ) -> None:
        self.seeds: SeedProvider = seeds or (lambda kind, subject_id: None)
        self.thresholds = thresholds or Thresholds()
        self.profiles: dict[str, Profile] = {}
        self.keys_in_namespace: dict[int, int] = {}
        self._reported: dict[tuple[str, str], tuple[float, int]] = {}
        self._observed = 0

    # --- profiles -----------------------------------------------------------------
    def _profile_for_key(self, obs: Observation, minute: int) -> Profile:
        subject = f"key:{obs.key_id}"
        profile = self.profiles.get(subject)
        if profile is None:
            seed = self.seeds("key", obs.key_id) or self._namespace_seed(obs.namespace_id)
            profile = self.profiles[subject] = Profile(minute, seed)
            self.keys_in_namespace[obs.namespace_id] = (
                self.keys_in_namespace.get(obs.namespace_id, 0) + 1
            )
        return profile

    def _namespace_seed(self, namespace_id: int) -> Seed | None:
        """A new key starts from its namespace's typical key."""
        fitted = self.seeds("namespace_key", namespace_id)
        if fitted is not None:
            return fitted
        online = self.profiles.get(f"namespace:{namespace_id}")
        if online is None or not online.warm:
            return None
        keys = max(1, self.keys_in_namespace.get(namespace_id, 1))
        return online.to_seed().scaled(1 / keys)

    def _profile_for_namespace(self, namespace_id: int, minute: int) -> Profile:
        subject = f"namespace:{namespace_id}"
        profile = self.profiles.get(subject)
        if profile is None:
            profile = self.profiles[subject] = Profile(
                minute, self.seeds("namespace", namespace_id)
            )
        return profile

    # --- the hot path -------------------------------------------------------------
    def observe(self, obs: Observation) -> list[Finding]:
        minute = int(obs.at // 60)
        fraction = (obs.at % 60) / 60
        self._observed += 1
        if self._observed % SWEEP_EVERY == 0:
            self._drop_idle(minute)
        key_profile = self._profile_for_key(obs, minute)
        namespace_profile = self._profile_for_namespace(obs.namespace_id, minute)
        key_profile.add(obs, minute)
        namespace_profile.add(obs, minute)
        findings: list[Finding] = []
        if key_profile.warm:
            subject = f"key:{obs.key_id}"
            self._evaluate(key_profile, subject, obs, fraction, CHECKS, obs.key_id, findings)
            self._check_new_clients(key_profile, subject, obs, fraction, findings)
        if namespace_profile.warm:
            self._evaluate(
                namespace_profile,
                f"namespace:{obs.namespace_id}",
                obs,
                fraction,
                CHECKS,
                None,
                findings,
            )
        return findings

    def _drop_idle(self, minute: int) -> None:
        idle = [s for s, p in self.profiles.items() if minute - p.minute > IDLE_MINUTES]
        for subject in idle:
            del self.profiles[subject]

    def _expected_requests(self, profile: Profile, at: float, minutes: int) -> float:
        """Requests expected in the last `minutes`, after the time-of-day profile."""
        hour = int(at // 3600)
        now_rate = profile.hour_rate(hour % 24)
        before_rate = profile.hour_rate((hour - 1) % 24)
        if now_rate is None or before_rate is None:
            return profile.mean[REQUESTS] * minutes
        into_hour = (at % 3600) / 60
        current = min(float(minutes), into_hour)
        return now_rate * current + before_rate * (minutes - current)

    def _evaluate(
        self,
        profile: Profile,
        subject: str,
        obs: Observation,
        fraction: float,
        checks: tuple[Check, ...],
        key_id: int | None,
        findings: list[Finding],
    ) -> None:
        limits = self.thresholds
        base_rate = profile.mean[REQUESTS]
        cache: dict[int, float] = {}
        # Until this hour of the day has been seen on two days, the daily rhythm is
        # unknown: a normal rush hour may look like a burst, so ask for twice as much.
        strict = 1.0 if profile.hour_rate(int(obs.at // 3600) % 24) is not None else 2.0
        for check in checks:
            metric, minutes = check.metric, check.minutes
            observed = profile.window(metric, minutes, fraction)
            if observed < check.floor:
                continue
            if minutes not in cache:
                cache[minutes] = self._expected_requests(profile, obs.at, minutes)
            expected_requests = cache[minutes]
            per_request = profile.mean[metric] / base_rate if base_rate > 0 else 0.0
            if metric in SIZED:
                # Tokens and cost given how many requests there were: a busy minute is
                # the request-rate check's business; this one looks at their size.
                requests = max(profile.window(REQUESTS, minutes, fraction), expected_requests)
                expected = per_request * requests
                spread = requests * (SIZE_SPREAD * per_request) ** 2
            else:
                expected = (
                    expected_requests if metric == REQUESTS else per_request * expected_requests
                )
                level = expected_requests / (base_rate * minutes) if base_rate > 0 else 1.0
                spread = max(profile.var[metric] * minutes * level, expected)
            z = (observed - expected) / math.sqrt(spread + 1e-9)
            if z < limits.z * strict or observed < limits.min_ratio * strict * expected:
                continue
            kind = check.kind
            if metric == REQUESTS and minutes == 60:
                hour_rate = profile.hour_rate(int(obs.at // 3600) % 24)
                if hour_rate is None or hour_rate > QUIET_HOUR * base_rate:
                    kind = "request_rate"
                else:
                    kind = "off_hours"
            relative = observed / max(expected, check.floor / limits.min_ratio)
            details = self._evidence(profile, metric, minutes, fraction, expected_requests, z)
            self._emit(
                findings,
                Finding(
                    subject=subject,
                    namespace_id=obs.namespace_id,
                    key_id=key_id,
                    kind=kind,
                    severity=severity_for(kind, observed, relative),
                    at=obs.at,
                    metric=METRICS[metric],
                    window_minutes=minutes,
                    observed=round(observed, 6),
                    expected=round(expected, 6),
                    details=details,
                ),
            )
        self._check_prompt_length(profile, subject, obs, fraction, key_id, findings)

    def _check_new_clients(
        self,
        profile: Profile,
        subject: str,
        obs: Observation,
        fraction: float,
        findings: list[Finding],
    ) -> None:
        ips = profile.window(NEW_IPS, 5, fraction)
        if ips < 1:
            return
        agents = profile.window(NEW_AGENTS, 5, fraction)
        observed = ips + agents
        expected = (profile.mean[NEW_IPS] + profile.mean[NEW_AGENTS]) * 5
        if observed < NEW_CLIENTS_FLOOR or observed < self.thresholds.min_ratio * expected:
            return
        details = self._evidence(profile, NEW_IPS, 5, fraction, expected, 0.0)
        details.pop("z", None)
        self._emit(
            findings,
            Finding(
                subject=subject,
                namespace_id=obs.namespace_id,
                key_id=obs.key_id,
                kind="new_clients",
                severity=severity_for("new_clients", ips, observed),
                at=obs.at,
                metric="new_clients",
                window_minutes=5,
                observed=observed,
                expected=round(expected, 6),
                details=details,
            ),
        )

    def _check_prompt_length(
        self,
        profile: Profile,
        subject: str,
        obs: Observation,
        fraction: float,
        key_id: int | None,
        findings: list[Finding],
    ) -> None:
        count = profile.window(PROMPTS, 5, fraction)
        if count < self.thresholds.prompt_min_requests or profile.prompt_n < 200:
            return
        mean = profile.window(PROMPT_LOG, 5, fraction) / count
        spread = math.sqrt(max(profile.prompt_var, 0.05) / count)
        z = (mean - profile.prompt_mean) / spread
        if abs(z) < self.thresholds.prompt_z:
            return
        usual, now = math.expm1(profile.prompt_mean), math.expm1(mean)
        self._emit(
            findings,
            Finding(
                subject=subject,
                namespace_id=obs.namespace_id,
                key_id=key_id,
                kind="prompt_length",
                severity="medium" if abs(z) >= 2 * self.thresholds.prompt_z else "low",
                at=obs.at,
                metric="prompt_tokens",
                window_minutes=5,
                observed=round(now, 1),
                expected=round(usual, 1),
                details={"z": round(z, 1), "requests": int(count)},
            ),
        )

    def _evidence(
        self,
        profile: Profile,
        metric: int,
        minutes: int,
        fraction: float,
        expected_requests: float,
        z: float,
    ) -> dict[str, Any]:
        requests = profile.window(REQUESTS, minutes, fraction)
        details: dict[str, Any] = {
            "z": round(z, 1),
            "requests": int(requests),
            "expected_requests": round(expected_requests, 2),
        }
        new_ips = int(profile.window(NEW_IPS, minutes, fraction))
        if new_ips:
            details["new_ips"] = new_ips
            details["ips"] = profile.recent_new_ips[-min(new_ips, 16) :]
        new_agents = int(profile.window(NEW_AGENTS, minutes, fraction))
        if new_agents:
            details["new_agents"] = new_agents
            details["agents"] = list(profile.agents)[-min(new_agents, 8) :]
        if metric not in (REQUESTS, NEW_IPS, NEW_AGENTS):
            details["errors"] = int(profile.window(ERRORS, minutes, fraction))
            details["security_hits"] = int(profile.window(SECURITY, minutes, fraction))
            details["tokens"] = int(profile.window(TOKENS, minutes, fraction))
            details["cost"] = round(profile.window(COST, minutes, fraction), 6)
        return details

    def _emit(self, findings: list[Finding], finding: Finding) -> None:
        """Keep one finding per subject and kind per minute, unless it got worse."""
        key = (finding.subject, finding.kind)
        rank = severity_rank(finding.severity)
        last = self._reported.get(key)
        if last is not None and finding.at - last[0] < REPEAT_SECONDS and rank <= last[1]:
            return
        if any(f.subject == finding.subject and f.kind == finding.kind for f in findings):
            return
        if len(self._reported) > 4096:
            horizon = finding.at - 3600
            self._reported = {k: v for k, v in self._reported.items() if v[0] >= horizon}
        self._reported[key] = (finding.at, max(rank, last[1] if last else 0))
        findings.append(finding)
