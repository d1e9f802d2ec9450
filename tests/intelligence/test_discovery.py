"""Discovery over stored logs (written directly, without the proxy): versions, trends."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from intelligence.models import Pattern, Template
from intelligence.services.discovery import learn
from intelligence.services.matching import annotate_pattern, snapshot_templates
from intelligence.services.stats import rollup
from proxy.call import Call
from proxy.models import Namespace, RequestBody, RequestLog

OLD = "Customer {} asks about order {}. Draft a short and friendly reply in English."
NEW = "Customer {} asks about order {}. Draft a short and formal reply in English."
NAMES = [
    "Alice",
    "Bob",
    "Carol",
    "Dmitri",
    "Eva",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kofi",
    "Lena",
]


def logged(namespace: Namespace, text: str, *, at: Any = None, **fields: Any) -> RequestLog:
    log = RequestLog.objects.create(
        id=uuid.uuid4().hex,
        created_at=at or timezone.now(),
        namespace=namespace,
        endpoint="chat",
        api_format="openai",
        status_code=fields.pop("status_code", 200),
        latency_ms=12.0,
        finish_reason="stop",
        **fields,
    )
    RequestBody.objects.create(
        log=log,
        request={"model": "m", "messages": [{"role": "user", "content": text}]},
        response={"choices": [{"message": {"content": "Done."}, "finish_reason": "stop"}]},
    )
    return log


@pytest.mark.django_db
def test_an_edited_template_is_stored_as_a_new_version_that_the_hot_path_knows() -> None:
    namespace = Namespace.objects.create(name="ns")
    for i, name in enumerate(NAMES[:10]):
        logged(namespace, OLD.format(name, 1000 + i))
    learn()
    for i, name in enumerate(NAMES[10:]):
        logged(namespace, NEW.format(name, 2000 + i))
    report = learn()
    assert report.new_versions == 1 and report.new_patterns == 0
    pattern = Pattern.objects.get()
    versions = list(pattern.versions.order_by("version"))
    assert [t.version for t in versions] == [1, 2]
    assert "friendly" in versions[0].text and "formal" in versions[1].text
    assert pattern.current_template == versions[1]

    name, index = snapshot_templates()
    assert name == "templates" and index.size == 2
    from proxy.config import ConfigSnapshot

    snapshot = ConfigSnapshot(1, {}, {}, None, {}, extra={"templates": index})

    class Key:
        namespace_id = namespace.id
        id = 1

    call = Call(api_format="openai", endpoint="chat", headers={})
    call.key = Key()  # type: ignore[assignment]
    call.body = {"messages": [{"role": "user", "content": NEW.format("Zoe", 7)}]}
    annotate_pattern(call, snapshot)
    assert call.annotations["pattern"]["version"] == 2
    assert call.pattern.variables() == ["Zoe", "7."]


@pytest.mark.django_db
def test_the_hot_path_stage_makes_no_database_query(django_assert_num_queries: Any) -> None:
    namespace = Namespace.objects.create(name="ns")
    for i, name in enumerate(NAMES[:3]):
        logged(namespace, OLD.format(name, i))
    learn()
    from proxy.config import ConfigSnapshot

    snapshot = ConfigSnapshot(1, {}, {}, None, {}, extra=dict([snapshot_templates()]))
    call = Call(api_format="openai", endpoint="chat", headers={"x-llmproxy-feedback": "abc=up"})
    call.body = {"messages": [{"role": "user", "content": OLD.format("Zoe", 7)}]}
    with django_assert_num_queries(0):
        annotate_pattern(call, snapshot)
    assert call.annotations["feedback_given"] == [{"request_id": "abc", "score": 1.0}]


@pytest.mark.django_db
def test_the_trend_compares_the_last_day_with_the_day_before() -> None:
    namespace = Namespace.objects.create(name="ns")
    now = timezone.now()
    for i in range(2):
        logged(namespace, OLD.format(NAMES[i], i), at=now - timedelta(hours=30))
    for i in range(4):
        logged(namespace, OLD.format(NAMES[i], i), at=now - timedelta(minutes=5 + i))
    learn()
    rollup(since=now - timedelta(hours=48))
    pattern = Pattern.objects.get()
    assert pattern.requests == 6 and pattern.trend == 2.0
    assert sum(s.requests for s in pattern.stats.all()) == 6  # hourly rows (2 or 3 hours)
    assert Template.objects.get().examples == 6
