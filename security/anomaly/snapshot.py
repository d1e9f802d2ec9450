"""What the hot path needs from the database, in the configuration snapshot.

`load()` is registered in `proxy.config.SNAPSHOT_EXTENSIONS`; it puts an
`AnomalyConfig` under `snapshot.extra["anomaly"]`: the enabled response rules,
the countermeasures in force (throttles and IP blocks, with their expiry) and
the fitted baselines new profiles start from. Changes to rules and
countermeasures invalidate the snapshot (see `security.anomaly.apps_ready`); the
refit job bumps the version once after it stored new baselines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from security.anomaly.baselines import Seed
from security.anomaly.findings import severity_rank


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: int
    kind: str  # "" matches every kind
    min_severity: str
    action: str
    namespace_id: int | None
    throttle_rpm: int | None
    duration_minutes: int | None
    webhook_url: str

    def matches(self, kind: str, severity: str, namespace_id: int | None) -> bool:
        return (
            (not self.kind or self.kind == kind)
            and severity_rank(severity) >= severity_rank(self.min_severity)
            and (self.namespace_id is None or self.namespace_id == namespace_id)
        )


@dataclass(frozen=True, slots=True)
class AnomalyConfig:
    rules: tuple[RuleInfo, ...] = ()
    # key id -> (requests per minute, expires at epoch seconds or None)
    throttles: dict[int, tuple[int, float | None]] = field(default_factory=dict)
    # key id -> {client ip: expires at epoch seconds or None}
    blocked_ips: dict[int, dict[str, float | None]] = field(default_factory=dict)
    seeds: dict[tuple[str, int], Seed] = field(default_factory=dict)

    def rules_for(self, kind: str, severity: str, namespace_id: int | None) -> list[RuleInfo]:
        return [r for r in self.rules if r.matches(kind, severity, namespace_id)]


def rule_info(rule: Any) -> RuleInfo:
    return RuleInfo(
        id=rule.id,
        kind=rule.kind,
        min_severity=rule.min_severity,
        action=rule.action,
        namespace_id=rule.namespace_id,
        throttle_rpm=rule.throttle_rpm,
        duration_minutes=rule.duration_minutes,
        webhook_url=rule.webhook_url,
    )


def load() -> tuple[str, AnomalyConfig]:
    """Synchronous ORM: runs on the proxy's DB thread with the rest of the snapshot."""
    from security.anomaly.models import Baseline, Countermeasure, ResponseRule

    rules = tuple(rule_info(r) for r in ResponseRule.objects.filter(enabled=True))
    throttles: dict[int, tuple[int, float | None]] = {}
    blocked: dict[int, dict[str, float | None]] = {}
    for measure in Countermeasure.objects.in_force():
        expires = measure.expires_at.timestamp() if measure.expires_at else None
        if measure.action == "throttle" and measure.requests_per_minute:
            current = throttles.get(measure.api_key_id)
            if current is None or measure.requests_per_minute < current[0]:
                throttles[measure.api_key_id] = (measure.requests_per_minute, expires)
        elif measure.action == "block_ip" and measure.client_ip:
            blocked.setdefault(measure.api_key_id, {})[measure.client_ip] = expires
    seeds = {(b.subject, b.subject_id): Seed.from_json(b.stats) for b in Baseline.objects.all()}
    return "anomaly", AnomalyConfig(rules, throttles, blocked, seeds)


def connect_signals() -> None:
    """Rules and countermeasures are configuration: changing them reloads the snapshot."""
    from proxy.invalidation import register_config_model
    from security.anomaly.models import Countermeasure, ResponseRule

    register_config_model(ResponseRule)
    register_config_model(Countermeasure)
