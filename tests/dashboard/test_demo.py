"""The demo fills the dashboard: several apps, streams, errors, through the real proxy."""

from __future__ import annotations

import random
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


class Scripted(random.Random):
    """A demo user whose dice are loaded: `random()` answers from the script, in order."""

    def __init__(self, seed: int, rolls: list[float]) -> None:
        super().__init__(seed)
        self.rolls = rolls

    def random(self) -> float:
        return self.rolls.pop(0) if self.rolls else 0.5

    def getrandbits(self, k: int) -> int:  # keeps `choice` and `randint` off the script
        return super().getrandbits(k)


def test_the_demo_s_attacks_fill_the_security_page_and_its_users_rate_answers(
    proxy_url: str,
) -> None:
    from dashboard.demo import ATTACKS, Traffic, demo_setup, send_one, start_fake_upstream
    from intelligence.models import Feedback
    from proxy.models import Namespace
    from proxy.runtime import get_runtime
    from security.dashboard_sections import policy_hit_rates, recent_events
    from security.models import AuditEntry, Policy, SecurityEvent

    get_runtime().invalidate_config()
    setup = demo_setup(proxy_url=proxy_url, fake=start_fake_upstream())
    assert Policy.objects.filter(name__startswith="demo-", scope="namespace").count() == 3
    assert AuditEntry.objects.filter(actor="system:demo", action="policy.add").count() == 3
    traffic = Traffic()
    clients: dict[str, Any] = {}
    for seed in range(3 * len(ATTACKS)):  # an attack each time (roll 0.01), not streamed
        send_one(setup, Scripted(seed, [0.01, 0.9, 0.9]), traffic, clients)
    for seed in range(3):  # an ordinary prompt, not streamed, and the user rates the answer
        send_one(setup, Scripted(seed, [0.5, 0.9, 0.1]), traffic, clients)
    get_runtime().recorder.flush()

    assert traffic.attacks == 3 * len(ATTACKS) and traffic.feedback == 3
    assert traffic.failed >= 1  # injections are blocked, with an OpenAI error
    events = list(SecurityEvent.objects.all())
    assert {e.detector for e in events} >= {"injection", "pii"}
    assert {e.action_taken for e in events} >= {"block", "redact"}
    demo_namespaces = set(
        Namespace.objects.filter(name__in=setup.keys).values_list("id", flat=True)
    )
    assert {e.namespace_id for e in events} <= demo_namespaces
    section = recent_events(None)
    assert section is not None and len(section.rows) == len(events)
    assert policy_hit_rates(None) is not None
    ratings = list(Feedback.objects.all())
    assert len(ratings) == 3 and {r.score for r in ratings} <= {0.0, 1.0}
    get_runtime().invalidate_config()


def test_the_demo_prices_the_models_the_price_tables_do_not_know(proxy_url: str) -> None:
    import openai

    from dashboard.demo import DEMO_PRICES, demo_setup, start_fake_upstream
    from proxy.models import RequestLog
    from proxy.runtime import get_runtime

    get_runtime().invalidate_config()
    setup = demo_setup(proxy_url=proxy_url, fake=start_fake_upstream())
    client = openai.OpenAI(
        base_url=setup.base_url, api_key=setup.keys["support-summariser"], max_retries=0
    )
    for model in DEMO_PRICES:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    get_runtime().recorder.flush()
    costs = dict(RequestLog.objects.values_list("requested_model", "cost_usd"))
    assert set(costs) == set(DEMO_PRICES)
    assert all(cost is not None and cost > 0 for cost in costs.values())
    get_runtime().invalidate_config()
