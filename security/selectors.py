"""Reads: the compiled policies for the configuration snapshot, and named policies."""

from __future__ import annotations

from security.engine import CompiledPolicy, PolicySet, compile_policy
from security.models import Policy


def policy_set_load() -> PolicySet:
    policies = Policy.objects.filter(enabled=True).prefetch_related("rules")
    return PolicySet(
        tuple(
            compile_policy(p, [r for r in p.rules.all() if r.enabled])
            for p in policies.order_by("priority", "name")
        )
    )


def snapshot_policies() -> tuple[str, PolicySet]:
    """The `SNAPSHOT_EXTENSIONS` loader: policies reach the hot path in `snapshot.extra`."""
    return "security", policy_set_load()


def policy_by_name(name: str) -> CompiledPolicy:
    row = Policy.objects.prefetch_related("rules").get(name=name)
    return compile_policy(row, [r for r in row.rules.all() if r.enabled])
