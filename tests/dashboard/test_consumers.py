"""The events WebSocket: session auth, namespace scoping, delivery of proxy events."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from dashboard import broadcast
from tests.dashboard.conftest import connect

pytestmark = pytest.mark.django_db(transaction=True)


async def next_events(communicator: Any, timeout: float = 2.0) -> list[dict[str, Any]]:
    frame = json.loads(await communicator.receive_from(timeout=timeout))
    return frame["events"]


async def test_it_refuses_an_anonymous_visitor(hub: Any) -> None:
    communicator, connected = await connect(None)
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_a_user_who_belongs_to_no_namespace(
    hub: Any, personas: dict[str, Any]
) -> None:
    communicator, connected = await connect(personas["outsider"])
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_a_foreign_origin(hub: Any, personas: dict[str, Any]) -> None:
    from channels.testing import WebsocketCommunicator

    from llmproxy.asgi import application

    communicator = WebsocketCommunicator(
        application, "/dashboard/ws/events/", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_staff_receive_the_events_of_every_namespace(
    hub: Any, personas: dict[str, Any]
) -> None:
    communicator, connected = await connect(personas["staff"])
    assert connected
    broadcast.publish("security.event", {"kind": "injection"}, namespace_id=personas["team_a"].id)
    broadcast.publish("anomaly.spike", {"metric": "rps"}, namespace_id=personas["team_b"].id)
    broadcast.publish("alert", {"text": "budget"})
    events = await next_events(communicator)
    assert [e["type"] for e in events] == ["security.event", "anomaly.spike", "alert"]
    assert events[0]["data"] == {"kind": "injection"}
    await communicator.disconnect()


async def test_a_viewer_receives_only_the_events_of_their_namespaces(
    hub: Any, personas: dict[str, Any]
) -> None:
    communicator, connected = await connect(personas["viewer"])
    assert connected
    broadcast.publish("experiment.started", {"n": 1}, namespace_id=personas["team_b"].id)
    broadcast.publish("alert", {"n": 2})  # no namespace: staff only
    broadcast.publish("experiment.started", {"n": 3}, namespace_id=personas["team_a"].id)
    events = await next_events(communicator)
    assert [e["data"]["n"] for e in events] == [3]
    assert await communicator.receive_nothing(timeout=0.1)
    await communicator.disconnect()


async def test_it_rejects_an_unknown_event_type(hub: Any) -> None:
    with pytest.raises(ValueError, match="unknown dashboard event type"):
        broadcast.publish("gossip", {})


async def test_a_request_through_the_proxy_arrives_within_a_fraction_of_a_second(
    hub: Any, personas: dict[str, Any], gateway: Any
) -> None:
    from proxy.models import ApiKey

    communicator, connected = await connect(personas["viewer"])
    assert connected
    key_namespace = (
        await ApiKey.objects.filter(pk=gateway.api_key.pk)
        .values_list("namespace_id", flat=True)
        .aget()
    )
    assert key_namespace == personas["team_a"].id  # the gateway's key is in team-a

    client = gateway.async_openai()
    answer = await client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hello live monitor"}]
    )
    answered = time.perf_counter()  # from the answer, not counting the request's own time
    events = await next_events(communicator, timeout=1.0)
    elapsed = time.perf_counter() - answered
    [event] = events
    assert event["type"] == "request.completed"
    assert event["namespace_id"] == personas["team_a"].id
    data = event["data"]
    assert data["model"] == "fake-model"
    assert data["status"] == 200
    assert data["prompt_tokens"] == answer.usage.prompt_tokens
    assert data["completion_tokens"] == answer.usage.completion_tokens
    assert elapsed < 1.0
    await communicator.disconnect()


async def test_a_viewer_does_not_see_requests_of_another_namespace(
    hub: Any, personas: dict[str, Any], gateway: Any
) -> None:
    from tests.conftest import make_key

    communicator, connected = await connect(personas["viewer"])
    assert connected
    secret, _ = await asyncio.to_thread(make_key, "team-b", "other")
    await gateway.async_openai(api_key=secret).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "not for team-a"}]
    )
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_browser_that_falls_behind_loses_its_oldest_events_only(hub: Any) -> None:
    from dashboard.hub import Subscriber, frame

    subscriber = Subscriber(namespaces=None, buffer_size=10)
    subscriber.keep([json.dumps({"type": "alert", "data": {"n": n}}) for n in range(1000)])
    events, dropped = await subscriber.take()
    decoded = json.loads(frame(events, dropped))
    assert [e["data"]["n"] for e in decoded["events"]] == list(range(990, 1000))
    assert decoded["dropped"] == 990


async def test_publishing_never_waits_for_browsers(hub: Any, personas: dict[str, Any]) -> None:
    communicator, connected = await connect(personas["staff"])  # connected, never reads
    assert connected
    started = time.perf_counter()
    for n in range(20_000):
        broadcast.publish("alert", {"n": n})
    assert time.perf_counter() - started < 1.0
    events = await next_events(communicator)
    assert len(events) <= 500  # the browser's buffer, not the whole backlog
    assert events[-1]["data"]["n"] == 19_999
    await communicator.disconnect()
