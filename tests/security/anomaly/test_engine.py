"""The engine in the proxy: bursts through the SDK are answered, countermeasures enforced."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import openai
import pytest

from proxy.recorder import LogEntry
from security.anomaly.engine import AnomalyEngine, observation_from_entry
from security.anomaly.fitting import baselines_refit
from security.anomaly.models import Anomaly, AnomalyAction, Countermeasure, ResponseRule
from security.anomaly.responses import countermeasure_lift
from security.anomaly.simulator.http import play
from security.anomaly.simulator.scenarios import scraping_burst
from security.anomaly.simulator.traffic import default_keys
from tests.conftest import Gateway, make_key
from tests.security.anomaly.conftest import write_history


def chat(client: Any) -> Any:
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )


def test_a_burst_through_the_sdk_suspends_the_key_within_a_second(
    gateway: Gateway, engine: AnomalyEngine
) -> None:
    write_history(gateway.api_key, days=3, per_minute=0.5)
    baselines_refit()
    ResponseRule.objects.create(name="page", action="alert", min_severity="medium")
    ResponseRule.objects.create(name="quarantine", action="suspend", min_severity="critical")
    spec = replace(
        default_keys()[0],
        key_id=gateway.api_key.pk,
        namespace_id=gateway.namespace.pk,
        ips=("127.0.0.1",),
    )
    attack = scraping_burst(random.Random(5), [spec], 0.0)
    requests = [r for r in attack.requests()][:300]
    sent = play(
        requests, base_url=gateway.v1, secrets={spec.key_id: gateway.key}, speed=40, workers=4
    )
    assert engine.flush()
    statuses = [s.status for s in sent]
    assert 200 in statuses and 403 in statuses
    assert {s.code for s in sent if s.status == 403} == {"key_suspended"}
    gateway.api_key.refresh_from_db()
    assert gateway.api_key.state == "suspended"
    critical = min(f.at for f, _ in engine.handled if f.severity == "critical")
    suspension = Countermeasure.objects.get(action="suspend", api_key=gateway.api_key)
    assert suspension.created_at.timestamp() - critical < 1.0
    anomaly = Anomaly.objects.get(api_key=gateway.api_key, kind="request_rate")
    assert anomaly.severity == "critical" and anomaly.state == "open"
    assert "× its usual request rate" in anomaly.summary
    assert AnomalyAction.objects.filter(action="anomaly.suspend").count() == 1
    with pytest.raises(openai.PermissionDeniedError):
        chat(gateway.openai())
    countermeasure_lift(measure=suspension, actor="alice")  # one click in the admin
    assert chat(gateway.openai()).choices[0].message.content == "echo: hi"


def test_a_new_key_starts_from_its_namespace_baseline(
    gateway: Gateway, engine: AnomalyEngine
) -> None:
    write_history(gateway.api_key, days=3, per_minute=0.5)
    baselines_refit()
    secret, fresh = make_key(name="fresh")  # same namespace, no history of its own
    client = gateway.openai(api_key=secret)
    for _ in range(60):
        chat(client)
    assert engine.flush()
    anomaly = Anomaly.objects.get(api_key=fresh, kind="request_rate")
    assert anomaly.summary.startswith("key team-a/fresh: ")


@pytest.mark.usefixtures("fresh_minute")
def test_a_throttle_caps_the_key_until_it_is_lifted(
    gateway: Gateway, engine: AnomalyEngine
) -> None:
    measure = Countermeasure.objects.create(
        action="throttle", api_key=gateway.api_key, requests_per_minute=3
    )
    client = gateway.openai()
    for _ in range(3):
        chat(client)
    with pytest.raises(openai.RateLimitError) as refused:
        chat(client)
    assert refused.value.response.headers["retry-after"]
    assert refused.value.body["code"] == "anomaly_throttle"
    countermeasure_lift(measure=measure, actor="alice")
    chat(client)
    logs = gateway.logs(5)
    assert [log.status_code for log in logs].count(429) == 1


def test_a_blocked_client_ip_is_refused_for_that_key_only(
    gateway: Gateway, engine: AnomalyEngine, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = frozenset({"127.0.0.1"})
    Countermeasure.objects.create(
        action="block_ip", api_key=gateway.api_key, client_ip="203.0.113.9"
    )
    from_there = gateway.openai(default_headers={"X-Forwarded-For": "203.0.113.9"})
    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(from_there)
    assert refused.value.body["code"] == "client_ip_blocked"
    chat(gateway.openai(default_headers={"X-Forwarded-For": "198.51.100.1"}))
    other_secret, _ = make_key(name="other")
    chat(gateway.openai(api_key=other_secret, default_headers={"X-Forwarded-For": "203.0.113.9"}))
    assert gateway.logs(3)[0].client_ip == "203.0.113.9"


def test_forwarded_for_counts_only_from_a_trusted_peer(settings: Any) -> None:
    from django.test import RequestFactory

    from proxy.services.pipeline import _client_ip

    factory = RequestFactory()
    request = factory.post("/v1/chat/completions", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.2")
    assert _client_ip(request) == "127.0.0.1"
    settings.TRUSTED_PROXIES = frozenset({"127.0.0.1", "10.0.0.2"})
    assert _client_ip(request) == "203.0.113.9"
    request.META["HTTP_X_FORWARDED_FOR"] = "203.0.113.9, unknown"
    assert _client_ip(request) == "127.0.0.1"  # not an address: the trusted peer it is
    request.META["REMOTE_ADDR"] = "198.51.100.7"
    assert _client_ip(request) == "198.51.100.7"


def test_an_observation_carries_the_security_detections_of_the_request() -> None:
    entry = LogEntry(
        id="x",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        endpoint="chat",
        api_format="openai",
        status_code=200,
        latency_ms=1500.0,
        namespace_id=1,
        api_key_id=2,
        prompt_tokens=10,
        completion_tokens=5,
        annotations={"security": [{"detector": "injection", "action": "flag"}] * 2},
    )
    obs = observation_from_entry(entry)
    assert obs is not None
    assert obs.security_hits == 2 and obs.tokens == 15
    assert obs.at == datetime(2026, 1, 1, tzinfo=UTC).timestamp() + 1.5
    entry.api_key_id = None
    assert observation_from_entry(entry) is None


def test_a_leaked_key_used_from_new_ips_gets_those_ips_blocked(
    gateway: Gateway, engine: AnomalyEngine
) -> None:
    from security.anomaly.simulator.scenarios import leaked_key

    write_history(gateway.api_key, days=2, per_minute=0.5, ips=("10.0.0.1",))
    baselines_refit()
    ResponseRule.objects.create(
        name="cut off", kind="new_clients", action="block_ip", min_severity="medium"
    )
    spec = replace(
        default_keys()[0],
        key_id=gateway.api_key.pk,
        namespace_id=gateway.namespace.pk,
        ips=("10.0.0.1",),
        agents=("OpenAI/Python",),
    )
    attack = leaked_key(random.Random(2), [spec], 0.0)
    requests = [r for r in attack.requests()][:12]
    sent = play(requests, base_url=gateway.v1, secrets={spec.key_id: gateway.key}, speed=100)
    assert engine.flush()
    anomaly = Anomaly.objects.get(api_key=gateway.api_key, kind="new_clients")
    assert "new client IPs" in anomaly.summary
    blocked = set(
        Countermeasure.objects.filter(action="block_ip").values_list("client_ip", flat=True)
    )
    assert blocked and blocked <= {r.ip for r in requests}
    assert any(s.code == "client_ip_blocked" for s in sent)  # later attack requests refused
    from_home = gateway.openai(default_headers={"X-Forwarded-For": "10.0.0.1"})
    assert chat(from_home).choices[0].message.content == "echo: hi"
    from_attacker = gateway.openai(default_headers={"X-Forwarded-For": sorted(blocked)[0]})
    with pytest.raises(openai.PermissionDeniedError):
        chat(from_attacker)


def test_a_throttle_is_counted_across_processes_when_the_counters_are_on_redis(
    gateway: Gateway, engine: AnomalyEngine, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis
    from django.core.cache.backends.redis import RedisCache

    from proxy.counters import Counters
    from proxy.runtime import get_runtime

    url = "redis://127.0.0.1:6379/7"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).flushdb()
    except redis.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    shared = RedisCache(url, {"OPTIONS": {"socket_connect_timeout": 0.5}})
    monkeypatch.setattr(get_runtime(), "counters", Counters(cache=shared))
    settings.ANOMALY_SERVER_PROCESSES = 2  # ignored: the count is shared, the cap is whole
    Countermeasure.objects.create(action="throttle", api_key=gateway.api_key, requests_per_minute=4)
    now = engine.clock()
    monkeypatch.setattr(engine, "clock", lambda: now)  # one minute window throughout
    client = gateway.openai()
    chat(client)
    chat(client)
    other_process = Counters(cache=RedisCache(url, {}))
    minute = int(now // 60)
    other_process.incr_many([(f"llmproxy:anomaly:throttle:{gateway.api_key.pk}:{minute}", 2, 120)])
    with pytest.raises(openai.RateLimitError) as refused:
        chat(client)
    assert refused.value.body["code"] == "anomaly_throttle"
    assert "4 requests per minute" in refused.value.message
    redis.Redis.from_url(url).flushdb()
