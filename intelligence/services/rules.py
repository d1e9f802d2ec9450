"""Rule flows: save (validated, versioned, audited), enable or disable, preview."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from intelligence.audit import audit
from intelligence.models import Rule, RuleRevision
from intelligence.rules.conditions import compile_conditions
from intelligence.rules.dialects import dialect_for
from intelligence.rules.engine import EnhancementSet, compile_rule
from intelligence.rules.operations import compile_operations
from intelligence.services.enhance import facts_for
from proxy.models import RequestLog

VERSIONED = ("conditions", "operations", "namespace_id")


def rule_validate(*, conditions: Any, operations: Any) -> None:
    """Raises `RuleError` with a readable message when the rule cannot be compiled."""
    compile_conditions(conditions)
    compile_operations(operations)


@transaction.atomic
def rule_save(*, rule: Rule, actor: str) -> Rule:
    """Create or update a rule: a new version when what it does changed; audited."""
    rule_validate(conditions=rule.conditions, operations=rule.operations)
    previous = Rule.objects.filter(pk=rule.pk).first() if rule.pk else None
    if previous is None:
        rule.version = 1
        rule.save()
        action = "rule.create"
    else:
        changed = any(getattr(previous, f) != getattr(rule, f) for f in VERSIONED)
        rule.version = previous.version + 1 if changed else previous.version
        rule.save()
        if previous.enabled != rule.enabled:
            action = "rule.enable" if rule.enabled else "rule.disable"
        elif changed:
            action = "rule.change"
        else:
            action = ""
    RuleRevision.objects.update_or_create(
        rule=rule,
        version=rule.version,
        defaults={
            "conditions": rule.conditions,
            "operations": rule.operations,
            "enabled": rule.enabled,
            "actor": actor,
        },
    )
    if action:
        audit(
            actor,
            action,
            rule,
            {"version": rule.version, "enabled": rule.enabled, "operations": rule.operations},
        )
    return rule


def rule_delete(*, rule: Rule, actor: str) -> None:
    audit(actor, "rule.delete", rule, {"version": rule.version, "operations": rule.operations})
    rule.delete()


def rule_set_enabled(*, rule: Rule, enabled: bool, actor: str) -> Rule:
    rule.enabled = enabled
    return rule_save(rule=rule, actor=actor)


@dataclass(frozen=True)
class Preview:
    matched: bool
    applied: list[str]
    before: dict[str, Any]
    after: dict[str, Any]
    note: str = ""


def rule_preview(*, rule: Rule, log: RequestLog) -> Preview:
    """Apply one rule (enabled or not) to a logged request's body: before and after."""
    body_row = getattr(log, "body", None)
    before = body_row.request if body_row is not None else None
    if not isinstance(before, dict):
        return Preview(False, [], {}, {}, "This request's body was not stored.")
    compiled = compile_rule(
        id=rule.pk or 0,
        version=rule.version,
        name=rule.name,
        conditions={
            **(rule.conditions or {}),
            **({"namespace": [rule.namespace_id]} if rule.namespace_id else {}),
        },
        operations=rule.operations,
    )
    pattern = (log.annotations or {}).get("pattern") or {}
    single = EnhancementSet(rules=(compiled,), categories=_categories(pattern.get("id")))
    facts = facts_for(
        body=before,
        endpoint=log.endpoint,
        namespace_id=log.namespace_id,
        key_id=log.api_key_id,
        model=(log.annotations or {}).get("original_model") or log.requested_model,
        pattern_id=pattern.get("id"),
        enhancements=single,
    )
    after = copy.deepcopy(before)
    outcome = single.apply(
        after,
        facts,
        dialect_for(log.api_format),
        log.session_id or f"key:{log.api_key_id}",
        variables=lambda: _variables_of(log, before),
    )
    matched = compiled.conditions.matches(facts)
    note = "" if matched else "The rule's conditions do not match this request."
    earlier = (log.annotations or {}).get("enhancements")
    if earlier:  # the log keeps the body as sent upstream, after those
        note = f"{note} The logged body already had {', '.join(earlier)} applied.".strip()
    return Preview(matched, outcome.applied, before, after, note)


def _categories(pattern_id: Any) -> dict[int, str]:
    from intelligence.models import Pattern

    if not isinstance(pattern_id, int):
        return {}
    name = (
        Pattern.objects.filter(pk=pattern_id, category__isnull=False)
        .values_list("category__name", flat=True)
        .first()
    )
    return {pattern_id: name} if name else {}


def _variables_of(log: RequestLog, body: dict[str, Any]) -> list[str] | None:
    """The logged prompt's variables, matched again against its template."""
    from intelligence.models import Template
    from intelligence.services.templates import TemplateIndex, tokenize_body

    pattern = (log.annotations or {}).get("pattern") or {}
    template_id = pattern.get("template_id")
    template = Template.objects.filter(pk=template_id).first() if template_id else None
    if template is None:
        return None
    index = TemplateIndex(
        [
            TemplateIndex.compile(
                template_id=template.id,
                pattern_id=template.pattern_id,
                version=template.version,
                namespace_id=log.namespace_id,
                tokens=template.tokens,
            )
        ]
    )
    match = index.match(log.namespace_id, tokenize_body(body))
    return match.variables() if match is not None else None
