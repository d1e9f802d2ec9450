"""Patterns, their versions and statistics are visible in the admin."""

from __future__ import annotations

from typing import Any

from django.test import Client

from intelligence.models import Pattern, SemanticCacheSetting
from tests.conftest import Gateway
from tests.intelligence.conftest import ask, learn_now


def test_patterns_show_their_statistics_and_versions_in_the_admin(
    gateway: Gateway, admin_user: Any
) -> None:
    for city in ("Paris", "Rome"):
        ask(gateway, f"Plan a weekend in {city} with a small budget")
    learn_now(gateway, 2)
    pattern = Pattern.objects.get()
    client = Client()
    client.force_login(admin_user)
    listing = client.get("/admin/intelligence/pattern/")
    assert listing.status_code == 200
    assert pattern.name in listing.text and "100%" in listing.text
    detail = client.get(f"/admin/intelligence/pattern/{pattern.id}/change/")
    assert detail.status_code == 200
    assert "Plan a weekend in &lt;*&gt; with a small budget" in detail.text
    example = pattern.insights.first()
    assert (
        example is not None and f"/admin/proxy/requestlog/{example.log_id}/change/" in detail.text
    )
    for page in ("requestinsight", "patternstat", "feedback", "category", "labelledexample",
                 "classifierstate", "semanticcachesetting", "semanticcacheentry"):  # fmt: skip
        if page == "patternstat":
            continue  # shown inline on the pattern
        assert client.get(f"/admin/intelligence/{page}/").status_code == 200, page


def test_the_recompute_action_calls_the_rollup(gateway: Gateway, admin_user: Any) -> None:
    ask(gateway, "Plan a weekend in Oslo with a small budget")
    learn_now(gateway, 1)
    pattern = Pattern.objects.get()
    Pattern.objects.filter(pk=pattern.pk).update(requests=0, success_rate=None)
    client = Client()
    client.force_login(admin_user)
    client.post(
        "/admin/intelligence/pattern/",
        {"action": "recompute_statistics", "_selected_action": [pattern.id]},
    )
    pattern.refresh_from_db()
    assert pattern.requests == 1 and pattern.success_rate == 1.0


def test_saving_a_cache_setting_reloads_the_configuration(gateway: Gateway) -> None:
    from proxy.models import ConfigVersion, Route

    before = ConfigVersion.objects.get(pk=1).version
    route = Route.objects.create(alias="r")
    SemanticCacheSetting.objects.create(route=route)
    assert ConfigVersion.objects.get(pk=1).version > before
