"""The admin shows anomalies, rules, countermeasures and their audit; one click undoes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from security.anomaly.findings import Finding
from security.anomaly.models import AnomalyAction, Countermeasure, ResponseRule
from security.anomaly.responses import finding_handle
from tests.conftest import make_key

pytestmark = pytest.mark.django_db(transaction=True)


def suspended_key() -> Any:
    _, key = make_key(name="ops-bot")
    ResponseRule.objects.create(name="quarantine", action="suspend", min_severity="critical")
    finding_handle(
        finding=Finding(
            subject=f"key:{key.pk}",
            namespace_id=key.namespace_id,
            key_id=key.pk,
            kind="request_rate",
            severity="critical",
            at=time.time(),
            metric="requests",
            window_minutes=1,
            observed=300.0,
            expected=2.0,
        )
    )
    key.refresh_from_db()
    assert key.state == "suspended"
    return key


def test_anomalies_and_their_countermeasures_are_listed(admin_client: Any) -> None:
    suspended_key()
    page = admin_client.get("/admin/security/anomaly/").content.decode()
    assert "key team-a/ops-bot: 150× its usual request rate" in page
    assert "critical" in page
    assert "suspend" in admin_client.get("/admin/security/countermeasure/").content.decode()
    assert "anomaly.suspend" in admin_client.get("/admin/security/anomalyaction/").content.decode()


def test_a_suspension_is_lifted_in_one_click_and_the_click_is_audited(admin_client: Any) -> None:
    key = suspended_key()
    measure = Countermeasure.objects.get()
    response = admin_client.post(
        "/admin/security/countermeasure/",
        {"action": "lift", "_selected_action": [measure.pk]},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.state == "active"
    lifted = AnomalyAction.objects.get(action="anomaly.suspend.lifted")
    assert lifted.actor == "admin"


def test_anomalies_are_acknowledged_and_resolved_from_the_admin(admin_client: Any) -> None:
    suspended_key()
    from security.anomaly.models import Anomaly

    anomaly = Anomaly.objects.get()
    admin_client.post(
        "/admin/security/anomaly/", {"action": "acknowledge", "_selected_action": [anomaly.pk]}
    )
    anomaly.refresh_from_db()
    assert anomaly.state == "acknowledged" and anomaly.acknowledged_by == "admin"
    admin_client.post(
        "/admin/security/anomaly/", {"action": "resolve", "_selected_action": [anomaly.pk]}
    )
    anomaly.refresh_from_db()
    assert anomaly.state == "resolved"


def test_response_rules_are_edited_in_the_admin(admin_client: Any) -> None:
    response = admin_client.post(
        "/admin/security/responserule/add/",
        {
            "name": "slow down scrapers",
            "kind": "request_rate",
            "min_severity": "high",
            "action": "throttle",
            "throttle_rpm": "5",
            "duration_minutes": "30",
            "webhook_url": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    rule = ResponseRule.objects.get()
    assert (rule.action, rule.throttle_rpm, rule.duration_minutes) == ("throttle", 5, 30)
