"""The audit trail: hash-chained, verified, append-only on PostgreSQL, fed by admin, keys and logins."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from proxy.models import ApiKey
from proxy.services.keys import api_key_revoke
from security.models import AuditEntry, Policy
from security.services.audit import GENESIS, audit_record, audit_verify
from tests.conftest import make_key

pytestmark = pytest.mark.django_db


def test_entries_are_chained_from_genesis():
    first = audit_record(actor="system", action="test.one")
    second = audit_record(actor="system", action="test.two", data={"n": 2})
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert audit_verify().intact and audit_verify().checked == 2


def test_verify_names_the_first_tampered_entry():
    audit_record(actor="system", action="a")
    middle = audit_record(actor="system", action="b")
    audit_record(actor="system", action="c")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE security_auditentry DISABLE TRIGGER USER")
    AuditEntry.objects.filter(pk=middle.pk).update(actor="mallory")
    report = audit_verify()
    assert not report.intact and report.broken_at == middle.pk
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("audit_verify", stdout=out, stderr=out)
    assert f"#{middle.pk}" in out.getvalue()


def test_audit_verify_command_reports_an_intact_chain():
    audit_record(actor="system", action="a")
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact" in out.getvalue() and "1 entries" in out.getvalue()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)
def test_postgresql_refuses_update_and_delete_on_the_audit_table():
    entry = audit_record(actor="system", action="a")
    for statement in (
        "UPDATE security_auditentry SET actor = 'x' WHERE id = %s",
        "DELETE FROM security_auditentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [entry.pk])


def test_key_creation_and_revocation_are_audited():
    _, key = make_key()
    api_key_revoke(key=key, actor="admin:root")
    actions = list(AuditEntry.objects.values_list("action", "actor", "object_id"))
    assert ("key.create", "system", str(key.pk)) in actions
    assert ("key.revoke", "admin:root", str(key.pk)) in actions


def test_logins_are_audited(client):
    User.objects.create_user("alice", password="pw-Long-enough-1")
    assert client.login(username="alice", password="pw-Long-enough-1")
    client.login(username="alice", password="wrong")
    assert list(AuditEntry.objects.values_list("action", "actor")) == [
        ("auth.login", "user:alice"),
        ("auth.login_failed", "user:alice"),
    ]


def test_admin_changes_are_audited_with_the_user(admin_client):
    response = admin_client.post(
        "/admin/security/policy/add/",
        {
            "name": "from-admin",
            "enabled": "on",
            "scope": "global",
            "mode": "enforce",
            "direction": "input",
            "priority": "100",
            "rules-TOTAL_FORMS": "1",
            "rules-INITIAL_FORMS": "0",
            "rules-0-order": "0",
            "rules-0-detector": "secrets",
            "rules-0-params": '{"types": ["aws_access_key"]}',
            "rules-0-threshold": "0.5",
            "rules-0-action": "redact",
            "rules-0-enabled": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    policy = Policy.objects.get(name="from-admin")
    assert policy.rules.get().params == {"types": ["aws_access_key"]}
    entry = AuditEntry.objects.get(action="policy.add")
    assert entry.actor == "admin:admin" and entry.object_id == str(policy.pk)
    _, key = make_key()
    admin_client.post(
        "/admin/proxy/apikey/",
        {"action": "delete_selected", "_selected_action": [key.pk], "post": "yes"},
    )
    assert not ApiKey.objects.filter(pk=key.pk).exists()
    assert AuditEntry.objects.filter(action="apikey.delete", object_id=str(key.pk)).exists()
    assert audit_verify().intact


def test_the_admin_refuses_rule_params_that_do_not_fit_the_detector(admin_client):
    response = admin_client.post(
        "/admin/security/policy/add/",
        {
            "name": "bad",
            "scope": "global",
            "mode": "enforce",
            "direction": "input",
            "priority": "100",
            "rules-TOTAL_FORMS": "1",
            "rules-INITIAL_FORMS": "0",
            "rules-0-order": "0",
            "rules-0-detector": "pii",
            "rules-0-params": '{"types": "email", "colour": "red"}',
            "rules-0-threshold": "0.5",
            "rules-0-action": "redact",
        },
    )
    assert response.status_code == 200
    assert not Policy.objects.filter(name="bad").exists()
    assert b"colour" in response.content


def test_the_policy_form_lists_each_detectors_parameters(admin_client):
    page = admin_client.get("/admin/security/policy/add/").content.decode()
    assert "classifier_min" in page and "min_entropy" in page and "denied_topics" in page
