"""A staff member logs in, opens the live monitor and watches a request arrive."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(transactional_db: Any, fake_upstream: Any) -> dict[str, Any]:
    from django.contrib.auth.models import User

    from proxy.models import Provider
    from tests.conftest import make_key

    User.objects.create_user("ops", password="browser-pw-123", is_staff=True)
    provider = Provider(
        name="fake", kind="openai", base_url=fake_upstream.base_url, is_default=True
    )
    provider.set_api_key("sk-fake-upstream-secret-0000")
    provider.save()
    secret, key = make_key("shop-frontend", "web")
    return {"secret": secret, "key": key}


def log_in(page: Any, url: str, next_path: str) -> None:
    page.goto(f"{url}/dashboard/login/?next={next_path}")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "browser-pw-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{next_path}")


def test_a_request_through_the_proxy_appears_in_the_live_monitor_within_a_second(
    page: Any, daphne_url: str, setup: dict[str, Any], screenshot: Any
) -> None:
    import openai

    log_in(page, daphne_url, "/dashboard/live/")
    page.wait_for_selector("#conn.open", timeout=5000)

    client = openai.OpenAI(base_url=daphne_url + "/v1", api_key=setup["secret"], max_retries=0)
    sent = time.perf_counter()
    raw = client.chat.completions.with_raw_response.create(
        model="fake-model", messages=[{"role": "user", "content": "Where is my order?"}]
    )
    request_id = raw.headers["x-llmproxy-request-id"]
    row = page.wait_for_selector(f'#live tr[data-id="{request_id}"]', timeout=1000)
    seen = time.perf_counter() - sent
    assert seen < 1.0
    assert "fake-model" in row.inner_text()
    assert "shop-frontend" in row.inner_text()
    screenshot("live-monitor")

    row.click()
    page.wait_for_url(f"{daphne_url}/dashboard/requests/{request_id}/")
    page.wait_for_selector("text=Where is my order?")
    screenshot("request-detail")


def test_every_page_renders(
    page: Any, daphne_url: str, setup: dict[str, Any], screenshot: Any
) -> None:
    import openai
    from django.core.management import call_command

    call_command("seed_logs", rows=3000, days=1, namespaces=3, keys=2)
    client = openai.OpenAI(base_url=daphne_url + "/v1", api_key=setup["secret"], max_retries=0)
    log_in(page, daphne_url, "/dashboard/")
    page.wait_for_selector("#conn.open", timeout=5000)
    for n in range(5):
        client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": f"question {n}"}]
        )
    page.wait_for_function(
        "document.querySelectorAll('#latest tbody tr').length >= 5", timeout=2000
    )
    assert page.inner_text("#t-rps") != "–"
    screenshot("overview")
    for path, name, marker in [
        ("/dashboard/analytics/", "analytics", "#breakdown tbody tr"),
        ("/dashboard/patterns/", "patterns", "#empty-state"),
        ("/dashboard/security/", "security", "#empty-state"),
        ("/dashboard/enhancements/", "enhancements", "#empty-state"),
    ]:
        started = time.perf_counter()
        page.goto(daphne_url + path)
        page.wait_for_selector(marker, timeout=3000)
        page.wait_for_load_state("networkidle")
        assert time.perf_counter() - started < 1.5
        screenshot(name)
