"""The admin edits limits, budgets and price overrides, and shows spend and unknown prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import Gateway


@pytest.fixture
def admin_client(client: Any, django_user_model: Any) -> Any:
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    return client


def test_the_key_list_shows_spend_against_budget(gateway: Gateway, admin_client: Any) -> None:
    gateway.api_key.budget_usd = Decimal("10")
    gateway.api_key.budget_period = "month"
    gateway.api_key.save()
    gateway.openai().chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi " * 500}]
    )
    [log] = gateway.logs(1)
    page = admin_client.get("/admin/proxy/apikey/").content.decode()
    assert f"${log.cost_usd:.6f} of $10 (month) (0%)" in page


def test_the_namespace_form_edits_limits_and_budget(gateway: Gateway, admin_client: Any) -> None:
    url = f"/admin/proxy/namespace/{gateway.namespace.pk}/change/"
    response = admin_client.post(
        url,
        {
            "name": gateway.namespace.name,
            "description": "",
            "requests_per_minute": "60",
            "tokens_per_minute": "",
            "budget_usd": "25.5",
            "budget_period": "day",
        },
    )
    assert response.status_code == 302
    gateway.namespace.refresh_from_db()
    assert gateway.namespace.requests_per_minute == 60
    assert gateway.namespace.budget_usd == Decimal("25.5")
    assert gateway.namespace.budget_period == "day"


def test_a_key_created_in_the_admin_keeps_its_limits(gateway: Gateway, admin_client: Any) -> None:
    from proxy.models import ApiKey

    response = admin_client.post(
        "/admin/proxy/apikey/add/",
        {
            "namespace": gateway.namespace.pk,
            "name": "limited",
            "state": "active",
            "allowed_models": "[]",
            "requests_per_minute": "5",
            "tokens_per_minute": "1000",
            "budget_usd": "1",
            "budget_period": "total",
        },
    )
    assert response.status_code == 302
    key = ApiKey.objects.get(name="limited")
    assert (key.requests_per_minute, key.tokens_per_minute) == (5, 1000)
    assert (key.budget_usd, key.budget_period) == (Decimal("1"), "total")


def test_the_request_log_filters_requests_whose_price_is_unknown(
    gateway: Gateway, admin_client: Any
) -> None:
    client = gateway.openai()
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "a"}])
    client.chat.completions.create(
        model="my-local-llama", messages=[{"role": "user", "content": "b"}]
    )
    priced, unknown = sorted(gateway.logs(2), key=lambda log: log.cost_usd is None)
    page = admin_client.get("/admin/proxy/requestlog/?price=unknown").content.decode()
    assert unknown.id in page and priced.id not in page
    page = admin_client.get("/admin/proxy/requestlog/?price=known").content.decode()
    assert priced.id in page and unknown.id not in page


def test_the_route_form_edits_price_overrides(gateway: Gateway, admin_client: Any) -> None:
    from proxy.models import Route

    response = admin_client.post(
        "/admin/proxy/route/add/",
        {
            "alias": "priced",
            "strategy": "single",
            "enabled": "on",
            "input_usd_per_mtok": "1.5",
            "output_usd_per_mtok": "6",
            "cache_read_usd_per_mtok": "",
            "cache_write_usd_per_mtok": "",
            "targets-TOTAL_FORMS": "0",
            "targets-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    route = Route.objects.get(alias="priced")
    assert route.input_usd_per_mtok == Decimal("1.5") and route.output_usd_per_mtok == 6
