"""The patterns API: listing, detail, classification, and staff-only training and learning."""

from __future__ import annotations

from typing import Any

import httpx

from intelligence.models import Pattern
from intelligence.synthetic import task_examples
from tests.conftest import Gateway, make_key
from tests.intelligence.conftest import ask, learn_now


def test_patterns_are_listed_with_statistics_for_the_keys_namespace(
    gateway: Gateway, api: Any
) -> None:
    for city in ("Paris", "Rome"):
        ask(gateway, f"Plan a weekend in {city} with a small budget")
    learn_now(gateway, 2)
    listed = api.get("/api/patterns").json()
    assert len(listed) == 1
    assert listed[0]["requests"] == 2 and listed[0]["success_rate"] == 1.0
    detail = api.get(f"/api/patterns/{listed[0]['id']}").json()
    assert detail["versions"][0]["text"] == "[user] Plan a weekend in <*> with a small budget"
    assert detail["versions"][0]["variables"] == [{"name": "var1", "kind": "text"}]
    assert len(detail["examples"]) == 2 and detail["stats"][0]["requests"] == 2

    other_secret, _ = make_key(namespace="team-b", name="other")
    outsider = {"authorization": f"Bearer {other_secret}"}
    assert httpx.get(gateway.url + "/api/patterns", headers=outsider).json() == []
    hidden = httpx.get(gateway.url + f"/api/patterns/{listed[0]['id']}", headers=outsider)
    assert hidden.status_code == 404


def test_classify_through_the_api(gateway: Gateway, api: Any) -> None:
    for city in ("Paris", "Rome"):
        ask(gateway, f"Plan a weekend in {city} with a small budget")
    learn_now(gateway, 2)
    answer = api.post(
        "/api/patterns/classify",
        json={"items": [{"id": 1, "text": "Plan a weekend in Oslo with a small budget"}]},
    )
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "id": 1,
            "pattern_id": Pattern.objects.get().id,
            "template": "[user] Plan a weekend in <*> with a small budget",
            "category": None,
            "confidence": None,
        }
    ]


def test_training_and_learning_need_a_staff_session(gateway: Gateway, api: Any) -> None:
    from django.contrib.auth.models import User

    examples = [{"text": t, "label": label} for t, label in task_examples(5, seed=3)]
    # A virtual key is not enough (refused by the CSRF check or the session auth).
    assert api.post("/api/patterns/train", json={"examples": examples}).status_code in (401, 403)
    assert api.post("/api/patterns/learn").status_code in (401, 403)

    User.objects.create_user("staff", password="pw-123456", is_staff=True)
    with httpx.Client(base_url=gateway.url) as browser:
        page = browser.get("/admin/login/")
        token = browser.cookies["csrftoken"]
        browser.post(
            "/admin/login/",
            data={"username": "staff", "password": "pw-123456", "csrfmiddlewaretoken": token},
            headers={"referer": gateway.url + "/admin/login/"},
        )
        assert page.status_code == 200 and "sessionid" in browser.cookies
        headers = {"x-csrftoken": browser.cookies["csrftoken"], "referer": gateway.url + "/"}
        trained = browser.post("/api/patterns/train", json={"examples": examples}, headers=headers)
        assert trained.status_code == 200, trained.text
        assert trained.json()["examples"] == len({(e["text"], e["label"]) for e in examples})
        ask(gateway, "Plan a weekend in Rome")
        gateway.logs(1)
        learned = browser.post("/api/patterns/learn", headers=headers)
        assert learned.json()["requests"] == 1 and learned.json()["new_patterns"] == 1
    classified = api.post(
        "/api/patterns/classify",
        json={"items": [{"id": "x", "text": "Write a poem about the sea"}]},
    )
    assert classified.json()[0]["category"] == "writing"
