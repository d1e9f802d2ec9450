"""Anomaly records and the automated responses: as configured, audited, reversible."""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.utils import timezone

from proxy.models import ApiKey
from security.anomaly.findings import Finding
from security.anomaly.models import Anomaly, AnomalyAction, Countermeasure, ResponseRule
from security.anomaly.responses import (
    anomalies_resolve_quiet,
    anomaly_acknowledge,
    countermeasure_lift,
    countermeasures_expire,
    finding_handle,
)
from tests.conftest import make_key

pytestmark = pytest.mark.django_db(transaction=True)


def finding(
    key: ApiKey, *, kind: str = "request_rate", severity: str = "high", **kw: Any
) -> Finding:
    fields: dict[str, Any] = {
        "subject": f"key:{key.pk}",
        "namespace_id": key.namespace_id,
        "key_id": key.pk,
        "kind": kind,
        "severity": severity,
        "at": time.time(),
        "metric": "requests",
        "window_minutes": 5,
        "observed": 140.0,
        "expected": 10.0,
        "details": {"requests": 140},
    }
    fields.update(kw)
    return Finding(**fields)


def rule(action: str, min_severity: str = "high", **kw: Any) -> ResponseRule:
    return ResponseRule.objects.create(
        name=f"{action} {min_severity}", action=action, min_severity=min_severity, **kw
    )


def test_a_finding_opens_an_anomaly_that_later_findings_update() -> None:
    _, key = make_key(name="ops-bot")
    first = finding_handle(finding=finding(key)).anomaly
    again = finding_handle(finding=finding(key, observed=300.0)).anomaly
    assert first.pk == again.pk and Anomaly.objects.count() == 1
    again.refresh_from_db()
    assert again.occurrences == 2 and again.peak_ratio == 30.0
    assert (
        again.summary
        == "key team-a/ops-bot: 30× its usual request rate (300 in the last 5 minutes, expected ≈10)"
    )
    assert again.evidence["observed"] == 300.0 and again.evidence["expected"] == 10.0


def test_rules_answer_by_kind_and_severity_and_each_action_is_audited() -> None:
    _, key = make_key(name="ops-bot")
    rule("alert", "medium")
    rule("throttle", "high", throttle_rpm=5, duration_minutes=30)
    rule("suspend", "critical")
    rule("block_ip", "high", kind="new_clients")
    finding_handle(finding=finding(key, severity="medium"))
    assert list(AnomalyAction.objects.values_list("action", flat=True)) == ["anomaly.alert"]
    finding_handle(finding=finding(key, severity="high"))  # escalation: rules apply again
    throttle = Countermeasure.objects.get(action="throttle")
    assert throttle.requests_per_minute == 5 and throttle.expires_at is not None
    key.refresh_from_db()
    assert key.state == "active"
    finding_handle(finding=finding(key, severity="critical"))
    key.refresh_from_db()
    assert key.state == "suspended"
    assert Countermeasure.objects.filter(action="throttle").count() == 1  # not doubled
    actions = set(AnomalyAction.objects.values_list("action", flat=True))
    assert actions == {"anomaly.alert", "anomaly.throttle", "anomaly.suspend"}
    assert all(a.actor == "anomaly-detector" for a in AnomalyAction.objects.all())


def test_new_client_ips_are_blocked_for_that_key_only() -> None:
    _, key = make_key(name="ops-bot")
    rule("block_ip", "medium", kind="new_clients")
    finding_handle(
        finding=finding(
            key,
            kind="new_clients",
            severity="medium",
            details={"ips": ["203.0.113.5", "203.0.113.6"]},
        )
    )
    blocked = Countermeasure.objects.filter(action="block_ip", api_key=key)
    assert sorted(blocked.values_list("client_ip", flat=True)) == ["203.0.113.5", "203.0.113.6"]


def test_rules_can_be_limited_to_a_namespace() -> None:
    _, key = make_key(namespace="team-a", name="ops-bot")
    _, other = make_key(namespace="team-b", name="ops-bot")
    rule("suspend", "high", namespace=other.namespace)
    finding_handle(finding=finding(key))
    key.refresh_from_db()
    assert key.state == "active"
    finding_handle(finding=finding(other))
    other.refresh_from_db()
    assert other.state == "suspended"


def test_lifting_a_suspension_reactivates_the_key_in_one_step_and_is_audited() -> None:
    _, key = make_key(name="ops-bot")
    rule("suspend", "high")
    finding_handle(finding=finding(key))
    measure = Countermeasure.objects.get(action="suspend")
    countermeasure_lift(measure=measure, actor="alice")
    key.refresh_from_db()
    assert key.state == "active"
    assert AnomalyAction.objects.filter(actor="alice", action="anomaly.suspend.lifted").exists()
    assert not Countermeasure.objects.in_force().exists()


def test_countermeasures_expire_on_their_own() -> None:
    _, key = make_key(name="ops-bot")
    rule("throttle", "high", duration_minutes=10)
    finding_handle(finding=finding(key))
    assert countermeasures_expire(now=timezone.now() + timedelta(minutes=5)) == 0
    assert countermeasures_expire(now=timezone.now() + timedelta(minutes=11)) == 1
    measure = Countermeasure.objects.get()
    assert measure.lifted_by == "expiry" and measure.lifted_at is not None


def test_an_acknowledged_anomaly_reopens_when_it_gets_worse_and_resolves_when_quiet() -> None:
    _, key = make_key(name="ops-bot")
    anomaly = finding_handle(finding=finding(key, severity="medium")).anomaly
    anomaly_acknowledge(anomaly=anomaly, actor="alice")
    anomaly = finding_handle(finding=finding(key, severity="high")).anomaly
    assert anomaly.state == "open" and anomaly.severity == "high"
    assert anomalies_resolve_quiet(now=timezone.now() + timedelta(minutes=10)) == 0
    assert anomalies_resolve_quiet(now=timezone.now() + timedelta(hours=1)) == 1
    anomaly.refresh_from_db()
    assert anomaly.state == "resolved"
    reopened = finding_handle(finding=finding(key)).anomaly
    assert reopened.pk != anomaly.pk  # a new episode is a new record


def test_an_alert_is_published_as_a_live_event(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    module = types.ModuleType("dashboard.broadcast")
    module.publish = lambda name, payload, namespace_id=None: events.append(  # type: ignore[attr-defined]
        (name, {**payload, "namespace_id": namespace_id})
    )
    monkeypatch.setitem(sys.modules, "dashboard.broadcast", module)
    _, key = make_key(name="ops-bot")
    rule("alert", "low")
    finding_handle(finding=finding(key))
    assert events and events[0][0] == "anomaly.detected"
    assert events[0][1]["namespace_id"] == key.namespace_id  # namespace viewers see it too
    assert events[0][1]["summary"].startswith("key team-a/ops-bot: 14×")


class _Hook(BaseHTTPRequestHandler):
    received: list[Any] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_an_alert_can_post_to_a_webhook(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    settings.ANOMALY_WEBHOOK_ALLOW_PRIVATE = True
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, key = make_key(name="ops-bot")
        rule("alert", "low", webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        finding_handle(finding=finding(key))
    finally:
        server.shutdown()
    assert _Hook.received and _Hook.received[-1]["kind"] == "request_rate"
    audit = AnomalyAction.objects.get(action="anomaly.alert")
    assert audit.details["webhook"].endswith("/hook")


def test_webhooks_to_private_addresses_are_refused_by_default() -> None:
    from security.anomaly.events import UnsafeWebhook, check_webhook_url

    for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "ftp://example.com/x"):
        with pytest.raises(UnsafeWebhook):
            check_webhook_url(url)


def test_a_key_re_activated_by_hand_is_suspended_again_by_the_next_critical_anomaly() -> None:
    from proxy.services.keys import api_key_set_state

    _, key = make_key(name="ops-bot")
    rule("suspend", "critical")
    anomaly = finding_handle(finding=finding(key, severity="critical")).anomaly
    api_key_set_state(key=key, state="active")  # the key admin's "Re-activate", not a lift
    anomalies_resolve_quiet(now=timezone.now() + timedelta(hours=1))
    finding_handle(finding=finding(key, severity="critical"))
    key.refresh_from_db()
    assert key.state == "suspended"
    old, new = Countermeasure.objects.order_by("created_at")
    assert old.anomaly_id == anomaly.pk and old.lifted_by == "key re-activated"
    assert new.lifted_at is None
