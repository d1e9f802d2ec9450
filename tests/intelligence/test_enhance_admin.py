"""The rule editor in admin: validated, versioned, audited; and its preview."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from intelligence.models import Rule
from intelligence.services.rules import rule_save
from tests.conftest import Gateway
from tests.intelligence.conftest import ask
from tests.intelligence.decisions import decision_records


def admin_client(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def rule_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "concise",
        "description": "",
        "namespace": "",
        "enabled": "on",
        "order": "10",
        "conditions": json.dumps({"model": ["gpt-4o*"]}),
        "operations": json.dumps([{"op": "system_prepend", "text": "Be concise."}]),
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_a_rule_added_in_admin_changes_live_requests_and_is_audited(
    gateway: Gateway, admin_user: Any
) -> None:
    client = admin_client(admin_user)
    response = client.post("/admin/intelligence/rule/add/", rule_form())
    assert response.status_code == 302, response.content[:2000]
    rule = Rule.objects.get()
    raw = ask(gateway, "hello", model="gpt-4o-mini")
    assert raw.headers["x-llmproxy-enhancements"] == f"rule:{rule.id}@v1"
    record = decision_records().get()
    assert (record.actor, record.action) == ("admin:admin", "rule.create")


def test_the_editor_refuses_an_invalid_rule_and_says_why(gateway: Gateway, admin_user: Any) -> None:
    client = admin_client(admin_user)
    response = client.post(
        "/admin/intelligence/rule/add/",
        rule_form(operations=json.dumps([{"op": "set_param", "param": "api_key", "value": 1}])),
    )
    assert response.status_code == 200
    assert "`param` must be one of" in response.text
    response = client.post(
        "/admin/intelligence/rule/add/", rule_form(conditions=json.dumps({"prompt_regex": "("}))
    )
    assert "not a valid regular expression" in response.text
    assert not Rule.objects.exists()


def test_enable_disable_and_delete_are_audited(gateway: Gateway, admin_user: Any) -> None:
    rule = rule_save(
        rule=Rule(name="r", operations=[{"op": "system_append", "text": "x"}]), actor="admin:bob"
    )
    client = admin_client(admin_user)
    client.post("/admin/intelligence/rule/", {"action": "enable", "_selected_action": [rule.id]})
    rule.refresh_from_db()
    assert rule.enabled
    client.post("/admin/intelligence/rule/", {"action": "disable", "_selected_action": [rule.id]})
    rule.refresh_from_db()
    assert not rule.enabled
    client.post(
        "/admin/intelligence/rule/",
        {"action": "delete_selected", "_selected_action": [rule.id], "post": "yes"},
    )
    assert not Rule.objects.exists()
    assert list(decision_records().order_by("id").values_list("action", flat=True)) == [
        "rule.create",
        "rule.enable",
        "rule.disable",
        "rule.delete",
    ]


def test_the_preview_applies_a_rule_to_a_logged_request(gateway: Gateway, admin_user: Any) -> None:
    ask(gateway, "Explain photosynthesis", model="gpt-4o-mini", temperature=0.9)
    log = gateway.logs(1)[0]
    rule = rule_save(
        rule=Rule(
            name="cool",
            operations=[
                {"op": "system_prepend", "text": "You are a biology teacher."},
                {"op": "set_param", "param": "temperature", "value": 0.2},
            ],
        ),
        actor="admin:bob",
    )
    client = admin_client(admin_user)
    page = client.get(f"/admin/intelligence/rule/{rule.id}/preview/?log={log.id}")
    assert page.status_code == 200
    before, after = page.context["before"], page.context["after"]
    assert json.loads(before)["temperature"] == 0.9
    assert json.loads(after)["temperature"] == 0.2
    assert json.loads(after)["messages"][0]["content"] == "You are a biology teacher."
    assert f"applied rule:{rule.id}@v1" in page.text
    assert not rule.enabled  # previewing a disabled rule sends nothing and changes nothing


def test_the_preview_says_when_the_conditions_do_not_match(
    gateway: Gateway, admin_user: Any
) -> None:
    ask(gateway, "hello", model="gpt-4o-mini")
    gateway.logs(1)
    rule = rule_save(
        rule=Rule(
            name="claude only",
            conditions={"model": ["claude-*"]},
            operations=[{"op": "system_prepend", "text": "x"}],
        ),
        actor="admin:bob",
    )
    page = admin_client(admin_user).get(f"/admin/intelligence/rule/{rule.id}/preview/")
    assert "do not match" in page.text, page.context["result"]
    assert page.context["before"] == page.context["after"]


def test_experiment_and_suggestion_pages_render(gateway: Gateway, admin_user: Any) -> None:
    client = admin_client(admin_user)
    for page in ("experiment", "suggestion", "decisionrecord", "rule", "judgescore"):
        assert client.get(f"/admin/intelligence/{page}/").status_code == 200


def test_an_experiment_arm_with_invalid_operations_is_refused(
    gateway: Gateway, admin_user: Any
) -> None:
    from intelligence.models import Experiment

    client = admin_client(admin_user)
    data = {
        "name": "e",
        "status": "draft",
        "mode": "approval",
        "conditions": json.dumps({"model": ["gpt-*"]}),
        "holdout_percent": "0",
        "alpha": "0.05",
        "max_samples_per_arm": "3000",
        "min_samples_per_arm": "200",
        "guardrail_error_rate_increase": "0.02",
        "guardrail_cost_increase": "0.5",
        "decision_reason": "",
        "arms-TOTAL_FORMS": "2",
        "arms-INITIAL_FORMS": "0",
        "arms-0-name": "control",
        "arms-0-is_control": "on",
        "arms-0-weight": "1",
        "arms-0-operations": "[]",
        "arms-1-name": "treatment",
        "arms-1-weight": "1",
        "arms-1-operations": json.dumps([{"op": "teleport"}]),
    }
    response = client.post("/admin/intelligence/experiment/add/", data)
    assert response.status_code == 200 and "`op` must be one of" in response.text
    assert not Experiment.objects.exists()
    data["arms-1-operations"] = json.dumps([{"op": "system_append", "text": "Be brief."}])
    response = client.post("/admin/intelligence/experiment/add/", data)
    assert response.status_code == 302, response.text[:3000]
    assert Experiment.objects.get().arms.count() == 2


def test_the_preview_warns_when_the_logged_body_was_already_enhanced(
    gateway: Gateway, admin_user: Any
) -> None:
    rule = rule_save(
        rule=Rule(name="r", enabled=True, operations=[{"op": "system_append", "text": "x"}]),
        actor="admin:bob",
    )
    ask(gateway, "hello")
    log = gateway.logs(1)[0]
    page = admin_client(admin_user).get(f"/admin/intelligence/rule/{rule.id}/preview/?log={log.id}")
    assert f"already had rule:{rule.id}@v1 applied" in page.text
