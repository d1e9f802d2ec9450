"""Security fixtures: policies built the way the admin saves them (validated, then saved)."""

from __future__ import annotations

from typing import Any

import pytest


def make_policy(
    name: str = "guard", rules: list[dict[str, Any]] | None = None, **fields: Any
) -> Any:
    from security.models import Policy, PolicyRule

    policy = Policy(name=name, **fields)
    policy.full_clean()
    policy.save()
    for order, spec in enumerate(rules or []):
        rule = PolicyRule(policy=policy, order=order, **spec)
        rule.full_clean()
        rule.save()
    return policy


@pytest.fixture
def policy() -> Any:
    return make_policy
