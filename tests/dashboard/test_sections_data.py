"""The Patterns and Security pages show the other apps' data, scoped to the viewer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)


def page(user: Any, path: str) -> str:
    client = Client()
    client.force_login(user)
    return client.get(path).content.decode()


def security_event(namespace: Any, label: str) -> None:
    from proxy.models import RequestLog
    from security.models import SecurityEvent

    log = RequestLog.objects.create(
        created_at=timezone.now(), endpoint="chat", api_format="openai", status_code=200,
        latency_ms=1.0, namespace=namespace,
    )  # fmt: skip
    SecurityEvent.objects.create(
        request_log=log, created_at=timezone.now(), namespace_id=namespace.id, policy="guard",
        mode="enforce", direction="input", detector="pii", label=label, score=1.0, start=0,
        end=5, action="redact", action_taken="redact",
    )  # fmt: skip


def test_the_security_page_lists_events_anomalies_and_the_audit_chain(
    personas: dict[str, Any],
) -> None:
    from security.anomaly.models import Anomaly
    from security.services.audit import audit_record

    security_event(personas["team_a"], "email-of-a")
    security_event(personas["team_b"], "phone-of-b")
    now = timezone.now()
    Anomaly.objects.create(
        subject="namespace:1", namespace=personas["team_b"], kind="request_rate",
        severity="high", summary="team-b: 14x its usual request rate", first_seen=now,
        last_seen=now,
    )  # fmt: skip
    audit_record(actor="admin:alice", action="policy.change", object_repr="guard")

    staff = page(personas["staff"], "/dashboard/security/")
    assert "email-of-a" in staff and "phone-of-b" in staff
    assert "14x its usual request rate" in staff
    assert "Chain intact:" in staff and "policy.change" in staff

    viewer = page(personas["viewer"], "/dashboard/security/")  # a member of team-a only
    assert "email-of-a" in viewer and "phone-of-b" not in viewer
    assert "14x its usual" not in viewer and "Chain intact" not in viewer


def test_the_patterns_page_lists_patterns_of_the_viewers_namespaces(
    personas: dict[str, Any],
) -> None:
    from intelligence.models import Pattern

    Pattern.objects.create(namespace=personas["team_a"], fingerprint="a" * 40, name="summarise <*>",
                           requests=40, success_rate=0.9)  # fmt: skip
    Pattern.objects.create(namespace=personas["team_b"], fingerprint="b" * 40, name="translate <*>",
                           requests=7)  # fmt: skip
    staff = page(personas["staff"], "/dashboard/patterns/")
    assert "summarise &lt;*&gt;" in staff and "translate &lt;*&gt;" in staff and "90%" in staff
    viewer = page(personas["viewer"], "/dashboard/patterns/")
    assert "summarise &lt;*&gt;" in viewer and "translate &lt;*&gt;" not in viewer
