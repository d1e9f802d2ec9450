"""The policy engine: compiled policies, and their evaluation over message texts.

Pure and synchronous (no ORM, no I/O), shared by the proxy stage, the output
filter, the scan API and the scan command.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from security.checks import Detection, get_check, parse_params
from security.checks.custom import check_model

SEVERITY = {"block": 4, "redact": 3, "alert": 2, "flag": 1}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    detector: str
    params: BaseModel
    threshold: float
    action: str


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    id: int
    name: str
    scope: str
    namespace_id: int | None
    api_key_id: int | None
    mode: str
    direction: str
    reversible: bool
    webhook_url: str
    rules: tuple[CompiledRule, ...]

    def reads(self, direction: str) -> bool:
        return self.direction in (direction, "both")

    def applies_to(self, namespace_id: int | None, api_key_id: int | None) -> bool:
        if self.scope == "namespace":
            return namespace_id is not None and self.namespace_id == namespace_id
        if self.scope == "key":
            return api_key_id is not None and self.api_key_id == api_key_id
        return True


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[CompiledPolicy, ...] = ()

    def for_request(
        self, namespace_id: int | None, api_key_id: int | None, direction: str
    ) -> list[CompiledPolicy]:
        return [
            p
            for p in self.policies
            if p.reads(direction) and p.applies_to(namespace_id, api_key_id)
        ]

    def named(self, name: str) -> CompiledPolicy | None:
        return next((p for p in self.policies if p.name == name), None)


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text in a request or response: where it is, whose it is."""

    index: int
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    policy: CompiledPolicy
    rule: CompiledRule
    segment: int
    detection: Detection

    @property
    def action_taken(self) -> str:
        return self.rule.action if self.policy.mode == "enforce" else "none"

    def as_event(self, direction: str) -> dict[str, Any]:
        d = self.detection
        return {
            "policy": self.policy.name,
            "mode": self.policy.mode,
            "direction": direction,
            "detector": d.detector,
            "label": d.label,
            "score": round(d.score, 4),
            "message_index": self.segment,
            "start": d.start,
            "end": d.end,
            "action": self.rule.action,
            "action_taken": self.action_taken,
        }


@dataclass
class Outcome:
    hits: list[Hit] = field(default_factory=list)

    def enforced(self, action: str) -> list[Hit]:
        return [h for h in self.hits if h.rule.action == action and h.policy.mode == "enforce"]

    @property
    def block(self) -> Hit | None:
        blocks = self.enforced("block")
        return blocks[0] if blocks else None

    def would(self) -> str:
        """The strongest action any policy asks for, enforced or not ('allow' when none)."""
        if not self.hits:
            return "allow"
        return max((h.rule.action for h in self.hits), key=SEVERITY.__getitem__)

    def redactions(self, segment: int) -> list[Hit]:
        return [
            h
            for h in self.enforced("redact")
            if h.segment == segment and h.detection.end > h.detection.start
        ]

    @property
    def top_injection_score(self) -> float:
        return max(
            (h.detection.score for h in self.hits if h.detection.detector == "injection"),
            default=0.0,
        )


def compile_policy(row: Any, rules: Iterable[Any]) -> CompiledPolicy:
    return CompiledPolicy(
        id=row.id,
        name=row.name,
        scope=row.scope,
        namespace_id=row.namespace_id,
        api_key_id=row.api_key_id,
        mode=row.mode,
        direction=row.direction,
        reversible=row.reversible,
        webhook_url=row.webhook_url,
        rules=tuple(
            CompiledRule(
                id=r.id,
                detector=r.detector,
                params=parse_params(r.detector, r.params),
                threshold=r.threshold,
                action=r.action,
            )
            for r in rules
        ),
    )


def default_policy() -> CompiledPolicy:
    """Every detector on with its default parameters: the scan command's baseline."""
    rules = (
        CompiledRule(-1, "injection", parse_params("injection", {}), 0.5, "block"),
        CompiledRule(-2, "secrets", parse_params("secrets", {}), 0.5, "redact"),
        CompiledRule(-3, "pii", parse_params("pii", {}), 0.5, "redact"),
    )
    return CompiledPolicy(-1, "default", "global", None, None, "enforce", "both", False, "", rules)


def evaluate(
    policies: Sequence[CompiledPolicy], segments: Sequence[Segment], *, model: str = ""
) -> Outcome:
    outcome = Outcome()
    for policy in policies:
        for rule in policy.rules:
            check = get_check(rule.detector)
            roles = getattr(rule.params, "roles", None)
            if rule.detector == "custom":
                for d in check_model(model, rule.params):  # type: ignore[arg-type]
                    outcome.hits.append(Hit(policy, rule, -1, d))
            for segment in segments:
                if roles is not None and segment.role not in roles:
                    continue
                for d in check.detect(segment.text, rule.params):
                    if d.score >= rule.threshold:
                        outcome.hits.append(Hit(policy, rule, segment.index, d))
    return outcome
