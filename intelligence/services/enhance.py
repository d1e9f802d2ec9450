"""The pipeline's `enhance` stage for rules and experiments, and the snapshot loader.

`snapshot_enhancements` (a `proxy.config.SNAPSHOT_EXTENSIONS` loader) compiles the
enabled rules, the running experiments and the pattern → category map into one
immutable `EnhancementSet`; saving a rule, an experiment or an arm bumps the
configuration version, so every process picks the change up within
`CONFIG_REFRESH_SECONDS`.

`enhance_request(call, snapshot)` runs on the request path after the pattern is
assigned: it never touches the database and never fails the request. It edits
`call.body` (what is sent upstream and logged), lists what it applied in the
`x-llmproxy-enhancements` response header and in `annotations["enhancements"]`,
and records the experiment arm in `annotations["experiment"]`. A client opts out
with the request header `x-llmproxy-enhance: off`.
"""

from __future__ import annotations

import logging
from typing import Any

from intelligence.rules.conditions import RequestFacts, RuleError
from intelligence.rules.dialects import dialect_for
from intelligence.rules.engine import (
    CompiledExperiment,
    CompiledRule,
    EnhancementSet,
    compile_experiment,
    compile_rule,
)
from intelligence.services.templates import prompt_messages
from proxy.call import Call
from proxy.config import ConfigSnapshot

log = logging.getLogger(__name__)

ENHANCEMENTS_HEADER = "x-llmproxy-enhancements"
OPT_OUT_HEADER = "x-llmproxy-enhance"
EMPTY = EnhancementSet()
ENDPOINTS = ("chat", "messages")


def snapshot_enhancements() -> tuple[str, EnhancementSet]:
    from intelligence.models import Experiment, Pattern, Rule

    rules: list[CompiledRule] = []
    for row in Rule.objects.filter(enabled=True).order_by("order", "id"):
        try:
            rules.append(
                compile_rule(
                    id=row.id,
                    version=row.version,
                    name=row.name,
                    conditions=_scoped(row.conditions, row.namespace_id),
                    operations=row.operations,
                )
            )
        except RuleError as error:  # the admin validates; an old row may not
            log.warning("rule %s skipped: %s", row.id, error)
    experiments: list[CompiledExperiment] = []
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING).prefetch_related("arms")
    for experiment in running.order_by("id"):
        try:
            experiments.append(compile_running(experiment))
        except RuleError as error:
            log.warning("experiment %s skipped: %s", experiment.id, error)
    categories = dict(
        Pattern.objects.filter(category__isnull=False).values_list("id", "category__name")
    )
    return "enhancements", EnhancementSet(tuple(rules), tuple(experiments), categories)


def _scoped(conditions: Any, namespace_id: int | None) -> Any:
    if namespace_id is None:
        return conditions
    return {**(conditions or {}), "namespace": [namespace_id]}


def compile_running(experiment: Any) -> CompiledExperiment:
    return compile_experiment(
        id=experiment.id,
        conditions=_scoped(experiment.conditions, experiment.namespace_id),
        holdout_percent=experiment.holdout_percent,
        arms=[
            {
                "id": arm.id,
                "name": arm.name,
                "weight": 0 if arm.stopped else arm.weight,
                "operations": arm.operations,
            }
            for arm in experiment.arms.all()
        ],
    )


def facts_for(
    *,
    body: dict[str, Any],
    endpoint: str,
    namespace_id: int | None,
    key_id: int | None,
    model: str,
    pattern_id: int | None,
    enhancements: EnhancementSet,
) -> RequestFacts:
    metadata = body.get("metadata")
    return RequestFacts(
        namespace_id=namespace_id,
        key_id=key_id,
        model=model,
        endpoint=endpoint,
        pattern_id=pattern_id,
        category=enhancements.categories.get(pattern_id) if pattern_id is not None else None,
        prompt_text=(
            "\n".join(text for _, text in prompt_messages(body))
            if enhancements.needs_prompt
            else ""
        ),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def enhance_request(call: Call, snapshot: ConfigSnapshot) -> None:
    """The `enhance` stage's rules and experiments; never raises, never waits."""
    if call.endpoint not in ENDPOINTS:
        return
    if call.headers.get(OPT_OUT_HEADER, "").strip().lower() == "off":
        call.annotations["enhance"] = "off"
        return
    enhancements: EnhancementSet = snapshot.extra.get("enhancements", EMPTY)
    if enhancements.empty:
        return
    match = call.pattern
    try:
        facts = facts_for(
            body=call.body,
            endpoint=call.endpoint,
            namespace_id=call.namespace_id,
            key_id=call.key.id if call.key else None,
            model=call.requested_model,
            pattern_id=match.pattern_id if match is not None else None,
            enhancements=enhancements,
        )
        unit = call.session_id or f"key:{call.key.id if call.key else call.client_ip}"
        outcome = enhancements.apply(
            call.body,
            facts,
            dialect_for(call.api_format),
            unit,
            variables=(lambda: match.variables()) if match is not None else (lambda: None),
        )
    except Exception:  # a rule must never fail the request
        log.exception("enhancement failed for request %s", call.request_id)
        call.annotations["enhance_error"] = True
        return
    if outcome.experiment is not None:
        call.annotations["experiment"] = outcome.experiment
    if outcome.model:
        call.annotations["original_model"] = call.requested_model
        call.requested_model = outcome.model
    if outcome.applied:
        call.annotations["enhancements"] = outcome.applied
        call.response_headers[ENHANCEMENTS_HEADER] = ", ".join(outcome.applied)
