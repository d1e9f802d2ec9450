"""The demo fills the dashboard: several apps, streams, errors, through the real proxy."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_sends_mixed_traffic_through_the_proxy(proxy_url: str) -> None:
    from dashboard.demo import APPS, demo_setup, run_traffic, start_fake_upstream
    from proxy.models import RequestLog
    from proxy.runtime import get_runtime

    get_runtime().invalidate_config()
    setup = demo_setup(proxy_url=proxy_url, fake=start_fake_upstream())
    ticks: list[Any] = []
    traffic = run_traffic(setup, rate=40, duration=6, workers=6, every=lambda: ticks.append(1))
    get_runtime().recorder.flush()
    logs = list(RequestLog.objects.select_related("namespace"))
    assert traffic.sent == len(logs) >= 20  # the first requests pay for cold starts
    assert {log.namespace.name for log in logs} == set(APPS)
    assert any(log.stream for log in logs)
    assert any(not log.stream for log in logs)
    assert len({log.resolved_model for log in logs}) >= 3
    assert ticks  # the rollup hook ran
    get_runtime().invalidate_config()


def test_the_demo_traffic_passes_the_ssrf_guard_on_loopback(proxy_url: str, settings: Any) -> None:
    """`make demo` runs against a real proxy, where the private-network guard is on."""
    import openai

    from dashboard.demo import MODELS, demo_setup, start_fake_upstream
    from proxy.runtime import get_runtime

    settings.UPSTREAM_PRIVATE_NETWORK_GUARD = True
    get_runtime().invalidate_config()
    setup = demo_setup(proxy_url=proxy_url, fake=start_fake_upstream())
    secret = next(iter(setup.keys.values()))
    client = openai.OpenAI(base_url=setup.base_url, api_key=secret, max_retries=0)
    model = next(iter(MODELS))
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content
    get_runtime().invalidate_config()


def test_running_the_setup_twice_keeps_one_usable_key_per_app(proxy_url: str) -> None:
    from dashboard.demo import APPS, demo_setup, start_fake_upstream
    from proxy.models import ApiKey

    fake = start_fake_upstream()
    demo_setup(proxy_url=proxy_url, fake=fake)
    demo_setup(proxy_url=proxy_url, fake=fake)
    assert ApiKey.objects.usable().filter(name="demo").count() == len(APPS)


def test_the_demo_learns_patterns_and_gets_a_suggestion_for_a_truncated_one(
    proxy_url: str,
) -> None:
    from dashboard.demo import (
        demo_learning,
        demo_setup,
        run_traffic,
        start_fake_claude,
        start_fake_upstream,
    )
    from intelligence.models import Pattern, Suggestion
    from proxy.runtime import get_runtime

    get_runtime().invalidate_config()
    fake = start_fake_upstream()
    setup = demo_setup(proxy_url=proxy_url, fake=fake)
    run_traffic(setup, rate=40, duration=6, workers=6)
    get_runtime().recorder.flush()
    outcome = demo_learning(start_fake_claude())
    assert outcome["learned"] >= 20 and Pattern.objects.exists()
    suggestions = list(Suggestion.objects.all())  # from the fake provider standing in for Claude
    assert outcome["suggestions"] == len(suggestions) >= 1
    assert any("truncation" in s.reason for s in suggestions)  # the demo's cut-off answers
    for suggestion in suggestions:
        assert suggestion.status == "pending"
        assert suggestion.rule["operations"] == [
            {"op": "clamp_param", "param": "max_tokens", "min": 1024}
        ]
        assert "jane.doe@example.com" not in suggestion.sent_prompt  # redacted before it left
    get_runtime().invalidate_config()
