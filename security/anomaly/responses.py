"""Flows that write: record a finding as an Anomaly, answer it by the rules, undo it.

All synchronous ORM, called off the request path (the engine's writer thread,
the admin, django-q2 tasks). Every automated action and every reversal is
audited through `audit.record_action`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from proxy.models import ApiKey, Namespace
from proxy.services.keys import api_key_set_state
from security.anomaly.audit import SYSTEM_ACTOR, record_action
from security.anomaly.events import ANOMALY_EVENT, publish
from security.anomaly.findings import Finding, describe, severity_rank
from security.anomaly.models import Anomaly, Countermeasure, ResponseRule
from security.anomaly.snapshot import rule_info

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    anomaly: Anomaly
    opened: bool
    escalated: bool


def subject_label(finding: Finding) -> str:
    if finding.key_id is not None:
        key = ApiKey.objects.select_related("namespace").filter(pk=finding.key_id).first()
        return f"key {key.namespace.name}/{key.name}" if key else f"key #{finding.key_id}"
    namespace = Namespace.objects.filter(pk=finding.namespace_id).first()
    return f"namespace {namespace.name}" if namespace else f"namespace #{finding.namespace_id}"


def _evidence(finding: Finding) -> dict[str, Any]:
    return {
        "metric": finding.metric,
        "window_minutes": finding.window_minutes,
        "observed": finding.observed,
        "expected": finding.expected,
        "ratio": None if finding.expected <= 0 else round(finding.ratio, 2),
        **finding.details,
    }


def anomaly_record(*, finding: Finding) -> Recorded:
    """Open an Anomaly, or update the ongoing one for the same subject and kind."""
    at = datetime.fromtimestamp(finding.at, tz=UTC)
    summary = describe(finding, subject_label(finding))
    ratio = finding.ratio if finding.expected > 0 else finding.observed
    for _ in range(2):  # a concurrent writer may open the same record first
        ongoing = Anomaly.objects.ongoing().filter(subject=finding.subject, kind=finding.kind)
        anomaly = ongoing.first()
        if anomaly is not None:
            escalated = severity_rank(finding.severity) > severity_rank(anomaly.severity)
            if escalated:
                anomaly.severity = finding.severity
                if anomaly.state == Anomaly.State.ACKNOWLEDGED:
                    anomaly.state = Anomaly.State.OPEN
            anomaly.last_seen = max(anomaly.last_seen, at)
            anomaly.occurrences += 1
            anomaly.summary = summary
            anomaly.evidence = _evidence(finding)
            anomaly.peak_ratio = max(anomaly.peak_ratio, ratio)
            anomaly.save()
            return Recorded(anomaly, opened=False, escalated=escalated)
        try:
            with transaction.atomic():
                anomaly = Anomaly.objects.create(
                    subject=finding.subject,
                    namespace_id=finding.namespace_id,
                    api_key_id=finding.key_id,
                    kind=finding.kind,
                    severity=finding.severity,
                    summary=summary,
                    evidence=_evidence(finding),
                    peak_ratio=ratio,
                    first_seen=at,
                    last_seen=at,
                )
            return Recorded(anomaly, opened=True, escalated=False)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not record anomaly {finding.subject} {finding.kind}")


def _expiry(rule: ResponseRule) -> datetime | None:
    if rule.duration_minutes:
        return timezone.now() + timedelta(minutes=rule.duration_minutes)
    return None


def _payload(anomaly: Anomaly) -> dict[str, Any]:
    return {
        "id": anomaly.pk,
        "subject": anomaly.subject,
        "kind": anomaly.kind,
        "severity": anomaly.severity,
        "state": anomaly.state,
        "summary": anomaly.summary,
        "evidence": anomaly.evidence,
        "first_seen": anomaly.first_seen.isoformat(),
        "last_seen": anomaly.last_seen.isoformat(),
    }


def _alert(anomaly: Anomaly, rule: ResponseRule) -> None:
    publish(ANOMALY_EVENT, _payload(anomaly), namespace_id=anomaly.namespace_id)
    details: dict[str, Any] = {"anomaly": anomaly.pk, "rule": rule.pk, "summary": anomaly.summary}
    if rule.webhook_url:
        from django_q.tasks import async_task

        async_task("security.anomaly.events.deliver_webhook", rule.webhook_url, _payload(anomaly))
        details["webhook"] = rule.webhook_url
    record_action(SYSTEM_ACTOR, "anomaly.alert", anomaly.subject, details)


def _countermeasure(anomaly: Anomaly, rule: ResponseRule, **fields: Any) -> Countermeasure | None:
    """One countermeasure of each sort per key (and IP) at a time."""
    assert anomaly.api_key_id is not None
    existing = Countermeasure.objects.in_force().filter(
        api_key_id=anomaly.api_key_id, action=rule.action, client_ip=fields.get("client_ip")
    )
    if existing.exists():
        return None
    measure = Countermeasure.objects.create(
        action=rule.action,
        api_key_id=anomaly.api_key_id,
        anomaly=anomaly,
        rule=rule,
        expires_at=_expiry(rule),
        **fields,
    )
    record_action(
        SYSTEM_ACTOR,
        f"anomaly.{rule.action}",
        anomaly.subject,
        {
            "anomaly": anomaly.pk,
            "rule": rule.pk,
            "countermeasure": measure.pk,
            "client_ip": measure.client_ip,
            "requests_per_minute": measure.requests_per_minute,
            "expires_at": measure.expires_at.isoformat() if measure.expires_at else None,
            "summary": anomaly.summary,
        },
    )
    return measure


def _suspend(anomaly: Anomaly, rule: ResponseRule) -> None:
    key = anomaly.api_key
    if key is None or key.state != ApiKey.State.ACTIVE:
        return
    # An active key with a suspension "in force" was re-activated by hand (the key admin):
    # that suspension is over.
    Countermeasure.objects.in_force().filter(api_key=key, action=rule.action).update(
        lifted_at=timezone.now(), lifted_by="key re-activated"
    )
    if _countermeasure(anomaly, rule) is not None:
        api_key_set_state(key=key, state=ApiKey.State.SUSPENDED)


def _throttle(anomaly: Anomaly, rule: ResponseRule) -> None:
    rpm = rule.throttle_rpm or settings.ANOMALY_DEFAULT_THROTTLE_RPM
    _countermeasure(anomaly, rule, requests_per_minute=rpm)


def _block_ips(anomaly: Anomaly, rule: ResponseRule) -> None:
    for ip in anomaly.evidence.get("ips") or []:
        _countermeasure(anomaly, rule, client_ip=ip)


ACTIONS = {
    ResponseRule.Action.ALERT: _alert,
    ResponseRule.Action.THROTTLE: _throttle,
    ResponseRule.Action.SUSPEND: _suspend,
    ResponseRule.Action.BLOCK_IP: _block_ips,
}
KEY_ONLY = {ResponseRule.Action.THROTTLE, ResponseRule.Action.SUSPEND, ResponseRule.Action.BLOCK_IP}


def anomaly_respond(*, anomaly: Anomaly) -> list[str]:
    """Apply every enabled rule that matches. Returns the actions taken."""
    taken = []
    rules = ResponseRule.objects.filter(enabled=True)
    for rule in rules:
        if not rule_info(rule).matches(anomaly.kind, anomaly.severity, anomaly.namespace_id):
            continue
        if rule.action in KEY_ONLY and anomaly.api_key_id is None:
            continue
        ACTIONS[ResponseRule.Action(rule.action)](anomaly, rule)
        taken.append(rule.action)
    return taken


def finding_handle(*, finding: Finding) -> Recorded:
    """The writer's job for one finding: record it and, when new or worse, respond."""
    recorded = anomaly_record(finding=finding)
    if recorded.opened or recorded.escalated:
        anomaly_respond(anomaly=recorded.anomaly)
    return recorded


# --- reversals, from the admin (one click) or on expiry ---------------------------------
def countermeasure_lift(*, measure: Countermeasure, actor: str) -> Countermeasure:
    if measure.lifted_at is not None:
        return measure
    measure.lifted_at = timezone.now()
    measure.lifted_by = actor
    measure.save(update_fields=["lifted_at", "lifted_by"])
    if measure.action == ResponseRule.Action.SUSPEND:
        key = measure.api_key
        if key.state == ApiKey.State.SUSPENDED:
            api_key_set_state(key=key, state=ApiKey.State.ACTIVE)
    record_action(
        actor,
        f"anomaly.{measure.action}.lifted",
        f"key:{measure.api_key_id}",
        {"countermeasure": measure.pk, "client_ip": measure.client_ip},
    )
    return measure


def countermeasures_expire(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    due = Countermeasure.objects.filter(lifted_at__isnull=True, expires_at__lte=now)
    count = 0
    for measure in due.select_related("api_key"):
        countermeasure_lift(measure=measure, actor="expiry")
        count += 1
    return count


def anomaly_acknowledge(*, anomaly: Anomaly, actor: str) -> Anomaly:
    if anomaly.state == Anomaly.State.OPEN:
        anomaly.state = Anomaly.State.ACKNOWLEDGED
        anomaly.acknowledged_by = actor
        anomaly.save(update_fields=["state", "acknowledged_by"])
        record_action(actor, "anomaly.acknowledged", anomaly.subject, {"anomaly": anomaly.pk})
    return anomaly


def anomaly_resolve(*, anomaly: Anomaly, actor: str) -> Anomaly:
    if anomaly.state != Anomaly.State.RESOLVED:
        anomaly.state = Anomaly.State.RESOLVED
        anomaly.resolved_at = timezone.now()
        anomaly.save(update_fields=["state", "resolved_at"])
        record_action(actor, "anomaly.resolved", anomaly.subject, {"anomaly": anomaly.pk})
    return anomaly


def anomalies_resolve_quiet(*, now: datetime | None = None) -> int:
    """Anomalies whose behaviour stopped `ANOMALY_RESOLVE_AFTER_MINUTES` ago are resolved."""
    now = now or timezone.now()
    horizon = now - timedelta(minutes=settings.ANOMALY_RESOLVE_AFTER_MINUTES)
    quiet = Anomaly.objects.ongoing().filter(last_seen__lt=horizon)
    count = 0
    for anomaly in quiet:
        anomaly_resolve(anomaly=anomaly, actor="expiry")
        count += 1
    return count
