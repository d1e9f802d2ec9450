"""The admin, as a superuser sees it: every page renders, secrets are shown once or never."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from proxy.models import (
    ApiKey,
    Namespace,
    Provider,
    RequestBody,
    RequestLog,
    Route,
    RouteTarget,
    Session,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_of_each(db: Any) -> dict[str, Any]:
    namespace = Namespace.objects.create(name="team-a")
    key = ApiKey.objects.create(
        namespace=namespace, name="k", prefix="lp-abcdefghi", key_hash="0" * 64
    )
    provider = Provider(name="fake", base_url="http://127.0.0.1:9/v1")
    provider.set_api_key("sk-provider-secret-9876")
    provider.save()
    route = Route.objects.create(alias="fast", namespace=namespace)
    target = RouteTarget.objects.create(route=route, provider=provider, model="gpt-4o-mini")
    now = datetime.now(UTC)
    session = Session.objects.create(
        namespace=namespace, session_id="s-1", first_seen=now, last_seen=now, request_count=1
    )
    log = RequestLog.objects.create(
        id="f" * 32, created_at=now, namespace=namespace, api_key=key, endpoint="chat",
        api_format="openai", requested_model="gpt-4o-mini", resolved_model="gpt-4o-mini",
        provider="fake", status_code=200, latency_ms=12.5, upstream_ms=10.0,
        overhead_ms=2.5, prompt_tokens=7, completion_tokens=3, session_id="s-1",
    )  # fmt: skip
    RequestBody.objects.create(
        log=log,
        request={"messages": [{"role": "user", "content": "the stored prompt"}]},
        response={"choices": []},
        response_text="the stored answer",
    )
    return {
        "namespace": namespace,
        "apikey": key,
        "provider": provider,
        "route": route,
        "routetarget": target,
        "session": session,
        "requestlog": log,
    }


MODELS = ["namespace", "apikey", "provider", "route", "session", "requestlog"]


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_and_change_view_renders(
    admin_client: Client, one_of_each: dict[str, Any], model: str
) -> None:
    assert admin_client.get(reverse(f"admin:proxy_{model}_changelist")).status_code == 200
    obj = one_of_each[model]
    assert (
        admin_client.get(reverse(f"admin:proxy_{model}_change", args=[obj.pk])).status_code == 200
    )


@pytest.mark.parametrize("model", ["namespace", "apikey", "provider", "route"])
def test_configuration_can_be_added(admin_client: Client, db: Any, model: str) -> None:
    assert admin_client.get(reverse(f"admin:proxy_{model}_add")).status_code == 200


def test_a_key_created_in_the_admin_is_shown_once(
    admin_client: Client, one_of_each: dict[str, Any]
) -> None:
    response = admin_client.post(
        reverse("admin:proxy_apikey_add"),
        {
            "namespace": one_of_each["namespace"].pk,
            "name": "from-admin",
            "state": "active",
            "allowed_models": "[]",
            "budget_period": "month",
        },
        follow=True,
    )
    assert response.status_code == 200
    match = re.search(r"<code class='llmproxy-new-key'>(lp-[^<]+)</code>", response.text)
    assert match, response.text
    secret = match.group(1)
    key = ApiKey.objects.get(key_hash=ApiKey.hash_secret(secret))
    assert key.name == "from-admin" and key.prefix == secret[:12]
    change = admin_client.get(reverse("admin:proxy_apikey_change", args=[key.pk]))
    assert secret not in change.text
    assert secret not in admin_client.get(reverse("admin:proxy_apikey_changelist")).text


def test_a_provider_key_is_never_rendered_back(
    admin_client: Client, one_of_each: dict[str, Any]
) -> None:
    provider = one_of_each["provider"]
    for url in (
        reverse("admin:proxy_provider_change", args=[provider.pk]),
        reverse("admin:proxy_provider_changelist"),
    ):
        page = admin_client.get(url).text
        assert "sk-provider-secret-9876" not in page
        assert provider.api_key_encrypted not in page
    assert "…9876" in admin_client.get(reverse("admin:proxy_provider_changelist")).text


def test_a_provider_key_entered_in_the_admin_is_stored_encrypted_and_kept_when_left_empty(
    admin_client: Client, db: Any
) -> None:
    form = {"name": "openrouter", "kind": "openai", "base_url": "http://127.0.0.1:9/api/v1",
            "enabled": "on", "extra_headers": "{}", "model_names": "[]"}  # fmt: skip
    admin_client.post(reverse("admin:proxy_provider_add"), {**form, "api_key": "sk-or-key-4321"})
    provider = Provider.objects.get(name="openrouter")
    assert provider.get_api_key() == "sk-or-key-4321"
    assert "sk-or-key" not in provider.api_key_encrypted
    admin_client.post(
        reverse("admin:proxy_provider_change", args=[provider.pk]), {**form, "api_key": ""}
    )
    provider.refresh_from_db()
    assert provider.get_api_key() == "sk-or-key-4321"


def test_the_request_log_shows_bodies_and_timings_read_only(
    admin_client: Client, one_of_each: dict[str, Any]
) -> None:
    log = one_of_each["requestlog"]
    url = reverse("admin:proxy_requestlog_change", args=[log.pk])
    page = admin_client.get(url).text
    assert "the stored prompt" in page and "the stored answer" in page
    assert "12.5" in page and "2.5" in page
    assert admin_client.post(url, {"status_code": 500}).status_code == 403
    log.refresh_from_db()
    assert log.status_code == 200
    assert admin_client.get(reverse("admin:proxy_requestlog_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:proxy_requestlog_delete", args=[log.pk])).status_code == 403
    )


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("q=gpt-4o", True),
        ("q=no-such-model", False),
        ("q=s-1", True),
        ("status_code__exact=200", True),
        ("status_code__exact=502", False),
        ("requested_model__exact=gpt-4o-mini", True),
        ("stream__exact=1", False),
    ],
)
def test_the_request_log_can_be_searched_and_filtered(
    admin_client: Client, one_of_each: dict[str, Any], query: str, found: bool
) -> None:
    response = admin_client.get(reverse("admin:proxy_requestlog_changelist") + "?" + query)
    assert response.status_code == 200
    assert (one_of_each["requestlog"].pk in response.text) is found


def test_the_request_log_filters_by_namespace_and_date(
    admin_client: Client, one_of_each: dict[str, Any]
) -> None:
    url = reverse("admin:proxy_requestlog_changelist")
    namespace = one_of_each["namespace"]
    assert (
        one_of_each["requestlog"].pk
        in admin_client.get(f"{url}?namespace__id__exact={namespace.pk}").text
    )
    today = datetime.now(UTC)
    dated = admin_client.get(f"{url}?created_at__year={today.year}&created_at__month={today.month}")
    assert one_of_each["requestlog"].pk in dated.text
