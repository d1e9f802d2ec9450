"""In-process evaluation: feed a `Detector` simulated days in seconds.

The organisation's normal traffic warms a detector up once (`WARM_DAYS`
simulated days); every scenario run starts from a copy of it, picks a random
target, start and intensity, replays the target key's normal traffic up to the
attack and beyond, and records when the first finding about the target came.
False alarms are counted over normal traffic only, per 10,000 key-hours: an
alarm is a new (subject, kind) episode, i.e. what would open an Anomaly record.
"""

from __future__ import annotations

import copy
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from security.anomaly.detection import Detector
from security.anomaly.findings import Finding
from security.anomaly.simulator.scenarios import SCENARIOS
from security.anomaly.simulator.traffic import (
    KeySpec,
    SimRequest,
    default_keys,
    key_requests,
    merged,
    organisation_traffic,
)

WARM_DAYS = 7
DAY = 86400.0
EPISODE_GAP = 900.0  # findings closer than this belong to one episode (one record)
GRACE = 300.0  # a detection within 5 minutes after the attack ended still counts


@dataclass
class RunResult:
    scenario: str
    target: str
    detected: bool
    seconds_to_detect: float | None
    kinds: list[str] = field(default_factory=list)
    severity: str = ""
    first_summary: str = ""


@dataclass
class ScenarioSummary:
    scenario: str
    burst: bool
    runs: list[RunResult]

    @property
    def detection_rate(self) -> float:
        return sum(r.detected for r in self.runs) / len(self.runs) if self.runs else 0.0

    @property
    def median_seconds(self) -> float | None:
        times = [r.seconds_to_detect for r in self.runs if r.seconds_to_detect is not None]
        return statistics.median(times) if times else None

    @property
    def p90_seconds(self) -> float | None:
        times = sorted(r.seconds_to_detect for r in self.runs if r.seconds_to_detect is not None)
        return times[min(len(times) - 1, int(0.9 * len(times)))] if times else None


@dataclass
class FalseAlarms:
    key_hours: float
    alarms: list[Finding]

    @property
    def per_10k_key_hours(self) -> float:
        return len(self.alarms) / self.key_hours * 10_000 if self.key_hours else 0.0


def feed(detector: Detector, requests: Iterable[SimRequest]) -> list[Finding]:
    findings: list[Finding] = []
    for request in requests:
        findings.extend(detector.observe(request.observation()))
    return findings


def warmed_detector(seed: int, keys: list[KeySpec], days: int = WARM_DAYS) -> Detector:
    detector = Detector()
    feed(detector, organisation_traffic(random.Random(seed), keys, 0.0, days * DAY))
    return detector


def episodes(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that would open a new Anomaly record (first of each episode)."""
    last: dict[tuple[str, str], float] = {}
    opened = []
    for finding in sorted(findings, key=lambda f: f.at):
        key = (finding.subject, finding.kind)
        previous = last.get(key)
        if previous is None or finding.at - previous > EPISODE_GAP:
            opened.append(finding)
        last[key] = finding.at
    return opened


def run_scenario(
    name: str, warm: Detector, keys: list[KeySpec], rng: random.Random, origin: float
) -> RunResult:
    """One randomised attack on a copy of the warmed-up detector."""
    from security.anomaly.findings import describe

    attack = SCENARIOS[name](rng, keys, origin)
    detector = copy.deepcopy(warm)
    end = attack.end + GRACE
    normal = key_requests(random.Random(rng.random()), attack.target, origin, end)
    findings = feed(detector, merged(normal, attack.requests()))
    subject = f"key:{attack.target.key_id}"
    hits = [f for f in findings if f.subject == subject and attack.start <= f.at <= end]
    if not hits:
        return RunResult(name, attack.target.name, False, None)
    first = min(hits, key=lambda f: f.at)
    worst = max(hits, key=lambda f: ("low", "medium", "high", "critical").index(f.severity))
    return RunResult(
        name,
        attack.target.name,
        True,
        first.at - attack.start,
        sorted({f.kind for f in hits}),
        worst.severity,
        describe(first, attack.target.label),
    )


def evaluate_scenarios(
    runs: int,
    seed: int = 7,
    scenarios: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    warm_days: int = WARM_DAYS,
) -> list[ScenarioSummary]:
    keys = default_keys()
    warm = warmed_detector(seed, keys, warm_days)
    origin = warm_days * DAY
    rng = random.Random(seed * 1000 + 1)
    summaries = []
    for name in scenarios or SCENARIOS:
        results = [run_scenario(name, warm, keys, rng, origin) for _ in range(runs)]
        burst = SCENARIOS[name](random.Random(0), keys, origin).burst
        summaries.append(ScenarioSummary(name, burst, results))
        if progress:
            progress(f"{name}: {sum(r.detected for r in results)}/{runs} detected")
    return summaries


def evaluate_false_alarms(
    days: float, seed: int = 11, keys: list[KeySpec] | None = None, warm_days: int = WARM_DAYS
) -> FalseAlarms:
    """Normal traffic only, after the warm-up: every opened episode is a false alarm."""
    keys = keys or default_keys()
    warm = warmed_detector(seed, keys, warm_days)
    start = warm_days * DAY
    findings = feed(
        warm, organisation_traffic(random.Random(seed + 1), keys, start, start + days * DAY)
    )
    return FalseAlarms(key_hours=len(keys) * days * 24.0, alarms=episodes(findings))
