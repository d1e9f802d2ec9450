"""Rule conditions: which requests a rule (or an experiment) applies to.

Every key is optional; a rule with no conditions applies to every request. All
given keys must hold (AND); a list means any of its values (OR).

    namespace     [ids]            the key's namespace
    key           [ids]            the API key
    model         ["gpt-4o*", ..]  the requested model (shell-style wildcards)
    pattern       [ids]            the pattern matched on the hot path
    category      ["coding", ..]   the category an admin gave that pattern
    prompt_regex  "invoice|bill"   searched (case-insensitive) in the system and user text
    metadata      {"team": "x"}    equal values in the body's `metadata`
    endpoint      ["chat", ..]     the API endpoint ("chat", "messages")
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

KNOWN = frozenset(
    {"namespace", "key", "model", "pattern", "category", "prompt_regex", "metadata", "endpoint"}
)


class RuleError(ValueError):
    """A rule (conditions or operations) that cannot be compiled; the message says why."""


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What conditions look at, gathered once per request."""

    namespace_id: int | None
    key_id: int | None
    model: str
    endpoint: str
    pattern_id: int | None
    category: str | None
    prompt_text: str
    metadata: dict[str, Any]


def _ids(spec: dict[str, Any], name: str) -> frozenset[int] | None:
    value = spec.get(name)
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return frozenset(int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise RuleError(f"condition `{name}` must be a list of ids") from exc


def _names(spec: dict[str, Any], name: str) -> tuple[str, ...] | None:
    value = spec.get(name)
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in values):
        raise RuleError(f"condition `{name}` must be a list of non-empty strings")
    return tuple(values)


@dataclass(frozen=True, slots=True)
class Conditions:
    namespace: frozenset[int] | None = None
    key: frozenset[int] | None = None
    models: tuple[re.Pattern[str], ...] | None = None
    pattern: frozenset[int] | None = None
    category: frozenset[str] | None = None
    prompt_regex: re.Pattern[str] | None = None
    metadata: tuple[tuple[str, Any], ...] = ()
    endpoint: frozenset[str] | None = None

    def matches(self, facts: RequestFacts) -> bool:
        if self.namespace is not None and facts.namespace_id not in self.namespace:
            return False
        if self.key is not None and facts.key_id not in self.key:
            return False
        if self.endpoint is not None and facts.endpoint not in self.endpoint:
            return False
        if self.models is not None and not any(m.match(facts.model) for m in self.models):
            return False
        if self.pattern is not None and facts.pattern_id not in self.pattern:
            return False
        if self.category is not None and facts.category not in self.category:
            return False
        for name, value in self.metadata:
            if facts.metadata.get(name) != value:
                return False
        return self.prompt_regex is None or self.prompt_regex.search(facts.prompt_text) is not None


def compile_conditions(spec: Any) -> Conditions:
    if spec in (None, ""):
        spec = {}
    if not isinstance(spec, dict):
        raise RuleError("conditions must be a JSON object")
    unknown = set(spec) - KNOWN
    if unknown:
        raise RuleError(f"unknown condition(s): {', '.join(sorted(unknown))}")
    models = _names(spec, "model")
    categories = _names(spec, "category")
    endpoints = _names(spec, "endpoint")
    regex = spec.get("prompt_regex")
    compiled_regex = None
    if regex:
        if not isinstance(regex, str):
            raise RuleError("condition `prompt_regex` must be a string")
        try:
            compiled_regex = re.compile(regex, re.I)
        except re.error as exc:
            raise RuleError(
                f"condition `prompt_regex` is not a valid regular expression: {exc}"
            ) from exc
    metadata = spec.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RuleError("condition `metadata` must be an object")
    return Conditions(
        namespace=_ids(spec, "namespace"),
        key=_ids(spec, "key"),
        models=tuple(re.compile(fnmatch.translate(m)) for m in models) if models else None,
        pattern=_ids(spec, "pattern"),
        category=frozenset(categories) if categories else None,
        prompt_regex=compiled_regex,
        metadata=tuple(sorted(metadata.items())),
        endpoint=frozenset(endpoints) if endpoints else None,
    )
