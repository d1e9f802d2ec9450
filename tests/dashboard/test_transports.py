"""Events produced in another process reach this process's browsers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import connect

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
WORKER_SCRIPT = """
import django
django.setup()
from dashboard import broadcast
broadcast.publish("anomaly.latency", {"p95_ms": 900, "from": "worker"}, namespace_id=None)
broadcast.get_hub().close()
"""


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def swap_hub() -> Any:
    from django.apps import apps

    from dashboard.hub import EventHub

    config = apps.get_app_config("dashboard")
    previous = getattr(config, "hub", None)
    hubs: list[EventHub] = []

    def install(transport: Any) -> EventHub:
        config.hub = EventHub(transport=transport)
        hubs.append(config.hub)
        return config.hub

    yield install
    for hub in hubs:
        hub.close()
    config.hub = previous


async def test_an_event_published_by_a_worker_process_reaches_the_browser(
    swap_hub: Any, personas: dict[str, Any]
) -> None:
    from dashboard.transports import DatabaseTransport

    transport = DatabaseTransport()
    swap_hub(transport)
    communicator, connected = await connect(personas["staff"])
    assert connected
    assert await asyncio.to_thread(transport.ready.wait, 5)

    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DATABASE_POOL": "false",
        "DASHBOARD_EVENT_TRANSPORT": "database",
        "DJANGO_SETTINGS_MODULE": "llmproxy.settings",
    }
    worker = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", WORKER_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    frame = json.loads(await communicator.receive_from(timeout=2))
    [event] = frame["events"]
    assert event["type"] == "anomaly.latency"
    assert event["data"] == {"p95_ms": 900, "from": "worker"}
    await communicator.disconnect()


async def test_a_process_does_not_receive_its_own_shared_events_twice(
    swap_hub: Any, personas: dict[str, Any]
) -> None:
    from dashboard import broadcast
    from dashboard.transports import DatabaseTransport

    transport = DatabaseTransport()
    hub = swap_hub(transport)
    communicator, connected = await connect(personas["staff"])
    assert connected
    assert await asyncio.to_thread(transport.ready.wait, 5)
    broadcast.publish("alert", {"text": "once"})
    frame = json.loads(await communicator.receive_from(timeout=1))
    assert [e["data"]["text"] for e in frame["events"]] == ["once"]
    assert await asyncio.to_thread(hub.send_pending) in (0, 1)  # shared with others…
    assert await communicator.receive_nothing(timeout=0.4)  # …but not echoed back here
    await communicator.disconnect()


REDIS_URL = os.environ.get("TEST_DASHBOARD_REDIS_URL", "redis://127.0.0.1:6379/6")


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not _redis_available(), reason="Redis is not reachable")
async def test_events_cross_processes_through_channels_redis(
    swap_hub: Any, personas: dict[str, Any], settings: Any
) -> None:
    from dashboard.hub import EventHub
    from dashboard.transports import ChannelLayerTransport

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "llmproxy-test"},
        }
    }
    listening = ChannelLayerTransport()
    swap_hub(listening)
    communicator, connected = await connect(personas["viewer"])
    assert connected
    assert await asyncio.to_thread(listening.ready.wait, 5)

    other_process = EventHub(transport=ChannelLayerTransport())  # another origin, same Redis
    other_process.publish(
        {"type": "security.event", "ts": 0.0, "namespace_id": personas["team_a"].id, "data": {}}
    )
    other_process.publish(
        {"type": "security.event", "ts": 0.0, "namespace_id": personas["team_b"].id, "data": {}}
    )
    assert await asyncio.to_thread(other_process.send_pending) == 2
    frame = json.loads(await communicator.receive_from(timeout=2))
    assert [e["namespace_id"] for e in frame["events"]] == [personas["team_a"].id]
    await communicator.disconnect()
