"""The two seams to the security app: the audit trail and redaction before Claude."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from intelligence.audit import audit
from intelligence.models import DecisionRecord, Rule
from intelligence.redaction import built_in_redact, redact_for_external


@pytest.mark.django_db
def test_decisions_are_recorded_locally_without_the_security_app(monkeypatch: Any) -> None:
    monkeypatch.setattr("intelligence.audit.SECURITY_AUDIT", "security.services.absent.record")
    rule = Rule.objects.create(name="r", operations=[{"op": "system_append", "text": "x"}])
    audit("admin:alice", "rule.enable", rule, {"version": 1})
    audit("system:experiments", "experiment.stop", "experiment 4", None)
    first, second = DecisionRecord.objects.order_by("id")
    assert (first.actor, first.action, first.details) == (
        "admin:alice",
        "rule.enable",
        {"version": 1},
    )
    assert first.target.startswith(f"intelligence.rule:{rule.pk} ")
    assert second.target == "experiment 4"


@pytest.mark.django_db
def test_decisions_go_to_the_security_audit_trail_when_it_exists(monkeypatch: Any) -> None:
    recorded: list[dict[str, Any]] = []
    fake = types.ModuleType("security.services.audit")
    fake.audit_record = lambda **kwargs: recorded.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "security.services.audit", fake)
    monkeypatch.setitem(sys.modules, "security.services", types.ModuleType("security.services"))
    rule = Rule.objects.create(name="r", operations=[{"op": "system_append", "text": "x"}])
    audit("admin:alice", "rule.enable", rule, {"version": 1})
    assert recorded == [
        {"actor": "admin:alice", "action": "rule.enable", "obj": rule, "data": {"version": 1}}
    ]
    assert not DecisionRecord.objects.exists()


def test_the_built_in_redaction_removes_secrets_and_contact_data() -> None:
    text = (
        "Mail bob.smith@example.com or call +44 20 7946 0958; key sk-proj-abcdefghijklmnop1234; "
        "card 4111 1111 1111 1111; server 10.0.0.12; Authorization: Bearer abcdefghijklmnopqrstuvwx"
    )
    redacted = built_in_redact(text)
    for secret in (
        "bob.smith@example.com",
        "7946",
        "sk-proj-",
        "4111",
        "10.0.0.12",
        "abcdefghijklmnopqrstuvwx",
    ):
        assert secret not in redacted
    assert "[REDACTED:email]" in redacted and "[REDACTED:key]" in redacted
    assert built_in_redact("Summarise the meeting notes in 3 bullet points") == (
        "Summarise the meeting notes in 3 bullet points"
    )


def test_the_security_redactor_is_used_when_it_exists(monkeypatch: Any) -> None:
    fake = types.ModuleType("security.redaction")
    fake.redact_for_external = lambda text: text.upper()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "security.redaction", fake)
    assert redact_for_external("a@b.co") == "A@B.CO"
