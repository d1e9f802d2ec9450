"""Claude proposes improvements: pick underperforming patterns, show Claude a redacted
sample of their requests and outcomes, and store its one proposed rule as a
Suggestion for an admin to approve (into a rule or an experiment arm) or reject.

Nothing is sent unless `SUGGESTIONS_API_KEY` is set. The endpoint is
`SUGGESTIONS_BASE_URL` (Anthropic's API, or this proxy's own `/v1/messages` with
a proxy key, to reach Claude on another provider through the proxy's routes).
Every text sent goes through `intelligence.redaction.redact_for_external`, and the
exact prompt sent is kept on the Suggestion.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from intelligence.audit import audit
from intelligence.models import Pattern, RequestInsight, Rule, Suggestion
from intelligence.redaction import redact_for_external
from intelligence.rules.conditions import RuleError
from intelligence.rules.operations import compile_operations
from intelligence.services.signals import response_text
from intelligence.services.templates import prompt_messages

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """You improve prompts sent to a language model through a gateway.
You are shown one prompt pattern (a template filled with data), its statistics, and a
sample of its requests with their outcomes. Propose ONE concrete improvement, expressed
as gateway operations applied to every request of this pattern. Allowed operations:
  {"op": "system_prepend" | "system_append" | "system_replace", "text": "..."}
  {"op": "template_rewrite", "text": "... {var1} ..."}  (rewrites the last user message;
      {varN} is the pattern's N-th variable)
  {"op": "set_param", "param": "temperature|top_p|max_tokens|...", "value": ...}
  {"op": "clamp_param", "param": "max_tokens", "min": 1, "max": 4096}
  {"op": "route_model", "model": "..."}
  {"op": "add_stop", "sequences": ["..."]}
  {"op": "few_shot", "examples": [{"user": "...", "assistant": "..."}]}
Answer with a single JSON object and nothing else:
{"rationale": "why this helps, citing the sample", "operations": [ ... ]}"""

JSON_OBJECT = re.compile(r"\{.*\}", re.S)


@dataclass
class SuggestReport:
    picked: int = 0
    created: list[int] = field(default_factory=list)
    invalid: int = 0
    skipped: str = ""


def underperformers(limit: int) -> list[tuple[Pattern, str]]:
    """Patterns with enough traffic that fail, truncate, refuse, or cost the most."""
    busy = Pattern.objects.filter(requests__gte=settings.SUGGESTIONS_MIN_REQUESTS).exclude(
        suggestions__status=Suggestion.Status.PENDING
    )
    found: list[tuple[Pattern, str]] = []
    costs = sorted(float(p.cost_usd) / p.requests for p in busy if p.requests)
    median_cost = costs[len(costs) // 2] if costs else 0.0
    for pattern in busy.order_by("success_rate", "-requests"):
        reason = ""
        if (pattern.truncation_rate or 0) >= 0.1:
            reason = f"truncation rate {pattern.truncation_rate:.0%}"
        elif (pattern.refusal_rate or 0) >= 0.1:
            reason = f"refusal rate {pattern.refusal_rate:.0%}"
        elif (
            pattern.success_rate is not None
            and pattern.success_rate < settings.SUGGESTIONS_SUCCESS_BELOW
        ):
            reason = f"success rate {pattern.success_rate:.0%}"
        elif median_cost > 0 and float(pattern.cost_usd) / pattern.requests > 3 * median_cost:
            reason = "cost per request over 3x the median"
        if reason:
            found.append((pattern, reason))
        if len(found) >= limit:
            break
    return found


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


def build_prompt(pattern: Pattern, reason: str) -> str:
    """The user message for Claude: the pattern, its numbers and a sample; redacted."""
    template = pattern.current_template
    lines = [
        f"Pattern: {pattern.name}",
        f"Why it was picked: {reason}",
        f"Template: {template.text if template else '(free-form)'}",
        f"Variables: {json.dumps(template.variables) if template and template.variables else '-'}",
        f"Requests: {pattern.requests}; success {pattern.success_rate}; errors "
        f"{pattern.error_rate}; truncated {pattern.truncation_rate}; refused "
        f"{pattern.refusal_rate}; mean tokens {pattern.avg_tokens}",
        "",
        "Sample:",
    ]
    sample = (
        RequestInsight.objects.filter(pattern=pattern)
        .select_related("log__body")
        .order_by("-created_at")[: settings.SUGGESTIONS_SAMPLE_SIZE]
    )
    for number, insight in enumerate(sample, 1):
        body = getattr(insight.log, "body", None)
        request = body.request if body is not None and isinstance(body.request, dict) else {}
        prompt = "\n".join(f"[{role}] {text}" for role, text in prompt_messages(request))
        answer = response_text(body.response, body.response_text) if body is not None else ""
        lines += [
            f"--- request {number}: outcome {insight.outcome}, model {insight.log.requested_model}",
            f"parameters: {json.dumps({k: request[k] for k in ('temperature', 'max_tokens') if k in request})}",
            _clip(prompt, 1500),
            f"answer: {_clip(answer, 600)}",
        ]
    return redact_for_external("\n".join(lines))


def ask_claude(prompt: str, *, system: str = SYSTEM_PROMPT, max_tokens: int = 1024) -> str:
    """One call with the `anthropic` SDK; the configured key, endpoint and model."""
    import anthropic

    client = anthropic.Anthropic(
        api_key=settings.SUGGESTIONS_API_KEY,
        base_url=settings.SUGGESTIONS_BASE_URL,
        timeout=settings.SUGGESTIONS_TIMEOUT_SECONDS,
        max_retries=1,
    )
    message = client.messages.create(
        model=settings.SUGGESTIONS_MODEL,
        max_tokens=max_tokens,
        system=system,
        messages=[{"role": "user", "content": prompt}],
    )
    return "".join(getattr(block, "text", "") for block in message.content)


def parse_answer(text: str) -> tuple[str, list[dict[str, Any]]]:
    """(rationale, operations) from Claude's answer; raises RuleError when unusable."""
    found = JSON_OBJECT.search(text)
    if found is None:
        raise RuleError("the answer holds no JSON object")
    try:
        answer = json.loads(found.group(0))
    except ValueError as exc:
        raise RuleError(f"the answer's JSON is invalid: {exc}") from exc
    rationale = answer.get("rationale") if isinstance(answer, dict) else None
    if not isinstance(rationale, str) or not rationale.strip():
        raise RuleError("the answer has no rationale")
    operations = answer.get("operations")
    compile_operations(operations)
    return rationale.strip(), operations


def suggest_for(pattern: Pattern, reason: str) -> Suggestion | None:
    prompt = build_prompt(pattern, reason)
    try:
        rationale, operations = parse_answer(ask_claude(prompt))
    except RuleError as error:
        log.warning("Claude's suggestion for pattern %s was unusable: %s", pattern.pk, error)
        return None
    suggestion = Suggestion.objects.create(
        pattern=pattern,
        reason=reason,
        rationale=rationale,
        rule={"conditions": {"pattern": [pattern.pk]}, "operations": operations},
        model=settings.SUGGESTIONS_MODEL,
        sent_prompt=prompt,
    )
    audit("system:suggestions", "suggestion.create", suggestion, {"reason": reason})
    return suggestion


def suggest_improvements(limit: int | None = None) -> SuggestReport:
    """The job: one suggestion per picked pattern. Sends nothing without a key."""
    report = SuggestReport()
    if not settings.SUGGESTIONS_API_KEY:
        report.skipped = "SUGGESTIONS_API_KEY is not set; nothing was sent"
        return report
    for pattern, reason in underperformers(limit or settings.SUGGESTIONS_PER_RUN):
        report.picked += 1
        suggestion = suggest_for(pattern, reason)
        if suggestion is None:
            report.invalid += 1
        else:
            report.created.append(suggestion.pk)
    return report


@transaction.atomic
def suggestion_decide(
    *, suggestion: Suggestion, actor: str, approve: bool, as_experiment: bool = True
) -> Suggestion:
    """Reject, or approve into an enabled rule or a running experiment (control vs it)."""
    from intelligence.services.experiments import experiment_create, experiment_start
    from intelligence.services.rules import rule_save

    suggestion.decided_by = actor
    suggestion.decided_at = timezone.now()
    if not approve:
        suggestion.status = Suggestion.Status.REJECTED
        suggestion.save()
        audit(actor, "suggestion.reject", suggestion, {})
        return suggestion
    pattern = suggestion.pattern
    conditions = suggestion.rule.get("conditions") or {"pattern": [pattern.pk]}
    operations = suggestion.rule["operations"]
    name = f"Claude #{suggestion.pk}: {pattern.name}"[:120]
    if as_experiment:
        experiment = experiment_create(
            name=name,
            operations=operations,
            conditions=conditions,
            namespace_id=pattern.namespace_id,
            actor=actor,
        )
        experiment_start(experiment=experiment, actor=actor)
        suggestion.created_experiment = experiment
    else:
        rule = Rule(
            name=name,
            namespace_id=pattern.namespace_id,
            conditions=conditions,
            operations=operations,
            enabled=True,
            description=suggestion.rationale,
        )
        suggestion.created_rule = rule_save(rule=rule, actor=actor)
    suggestion.status = Suggestion.Status.APPROVED
    suggestion.save()
    audit(
        actor,
        "suggestion.approve",
        suggestion,
        {"as": "experiment" if as_experiment else "rule"},
    )
    return suggestion
