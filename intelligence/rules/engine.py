"""Applying rules and running experiments to one request. Pure Python, no Django.

An `EnhancementSet` is built once per configuration snapshot (regexes compiled,
operations validated) and is immutable; `EnhancementSet.apply` runs on the hot
path: it assigns the request to an experiment arm (sticky), then applies every
matching enabled rule in order, then the arm's operations.

Assignment is deterministic across processes and restarts: the unit (the
session id, else the API key) and the experiment id are hashed with SHA-256;
the first 8 bytes give a number in [0, 1). Below `holdout` the unit is held out
(no rules, no arm); the rest is split by the arms' weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from intelligence.rules.conditions import Conditions, RequestFacts, compile_conditions
from intelligence.rules.dialects import Dialect
from intelligence.rules.operations import OpContext, Operation, compile_operations

HOLDOUT = "holdout"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    version: int
    name: str
    conditions: Conditions
    operations: tuple[Operation, ...]

    @property
    def label(self) -> str:
        return f"rule:{self.id}@v{self.version}"


@dataclass(frozen=True, slots=True)
class CompiledArm:
    id: int
    name: str
    weight: int
    operations: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class CompiledExperiment:
    id: int
    conditions: Conditions
    holdout: float  # 0..0.5
    arms: tuple[CompiledArm, ...]

    def assign(self, unit: str) -> CompiledArm | None:
        """The unit's arm (None: held out). Same unit, same experiment: same answer."""
        return pick_arm(unit_position(self.id, unit), self.holdout, self.arms)


def unit_position(experiment_id: int, unit: str) -> float:
    digest = hashlib.sha256(f"{experiment_id}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_arm(position: float, holdout: float, arms: tuple[CompiledArm, ...]) -> CompiledArm | None:
    if position < holdout or not arms:
        return None
    scaled = (position - holdout) / (1.0 - holdout)
    total = sum(a.weight for a in arms)
    if total <= 0:
        return arms[0]
    edge = 0.0
    for arm in arms:
        edge += arm.weight / total
        if scaled < edge:
            return arm
    return arms[-1]


@dataclass(slots=True)
class Outcome:
    applied: list[str] = field(default_factory=list)
    experiment: dict[str, Any] | None = None
    model: str = ""  # the new model, when a rule routed the request elsewhere


@dataclass(frozen=True)
class EnhancementSet:
    rules: tuple[CompiledRule, ...] = ()
    experiments: tuple[CompiledExperiment, ...] = ()
    categories: dict[int, str] = field(default_factory=dict)  # pattern id -> category

    @property
    def empty(self) -> bool:
        return not self.rules and not self.experiments

    @property
    def needs_prompt(self) -> bool:
        return any(r.conditions.prompt_regex for r in self.rules) or any(
            e.conditions.prompt_regex for e in self.experiments
        )

    def apply(
        self,
        body: dict[str, Any],
        facts: RequestFacts,
        dialect: Dialect,
        unit: str,
        variables: Callable[[], list[str] | None] = lambda: None,
    ) -> Outcome:
        outcome = Outcome()
        ctx = OpContext(dialect=dialect, variables=variables)
        arm_ops: tuple[Operation, ...] = ()
        for experiment in self.experiments:
            if experiment.conditions.matches(facts):
                arm = experiment.assign(unit)
                outcome.experiment = {
                    "id": experiment.id,
                    "arm": arm.name if arm else HOLDOUT,
                    "arm_id": arm.id if arm else None,
                }
                if arm is None:
                    outcome.applied.append(f"experiment:{experiment.id}/{HOLDOUT}")
                    return outcome  # held out: no rules, no arm
                arm_ops = arm.operations
                break
        for rule in self.rules:
            if rule.conditions.matches(facts) and _run(rule.operations, body, ctx):
                outcome.applied.append(rule.label)
        if outcome.experiment is not None:
            _run(arm_ops, body, ctx)
            outcome.applied.append(
                f"experiment:{outcome.experiment['id']}/{outcome.experiment['arm']}"
            )
        outcome.model = ctx.model
        return outcome


def _run(operations: tuple[Operation, ...], body: dict[str, Any], ctx: OpContext) -> bool:
    changed = False
    for operation in operations:
        changed = operation.apply(body, ctx) or changed
    return changed


def compile_rule(
    *, id: int, version: int, name: str, conditions: Any, operations: Any
) -> CompiledRule:
    return CompiledRule(
        id=id,
        version=version,
        name=name,
        conditions=compile_conditions(conditions),
        operations=compile_operations(operations),
    )


def compile_experiment(
    *, id: int, conditions: Any, holdout_percent: float, arms: list[dict[str, Any]]
) -> CompiledExperiment:
    return CompiledExperiment(
        id=id,
        conditions=compile_conditions(conditions),
        holdout=min(max(holdout_percent, 0.0), 50.0) / 100.0,
        arms=tuple(
            CompiledArm(
                id=arm["id"],
                name=arm["name"],
                weight=arm["weight"],
                operations=compile_operations(arm["operations"], allow_empty=True),
            )
            for arm in arms
        ),
    )
