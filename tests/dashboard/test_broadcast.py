"""What the request observer publishes for the live pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard import broadcast
from proxy.recorder import LogEntry


class FakeHub:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.events.append(event)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    fake = FakeHub()
    monkeypatch.setattr(broadcast, "get_hub", lambda: fake)
    return fake


def entry(**annotations: Any) -> LogEntry:
    return LogEntry(
        id="r1",
        created_at=datetime.now(UTC),
        endpoint="chat",
        api_format="openai",
        status_code=200,
        latency_ms=3.0,
        namespace_id=7,
        requested_model="m",
        annotations=annotations,
    )


def test_a_request_with_detections_also_publishes_a_security_event(hub: FakeHub) -> None:
    detection = {"detector": "pii", "label": "email", "action": "redact", "start": 3, "end": 9}
    broadcast.observe_request(entry(security=[detection], pattern={"id": 12, "version": 2}))
    completed, security = hub.events
    assert completed["type"] == "request.completed"
    assert completed["data"]["pattern"] == "#12 v2"
    assert completed["data"]["security"] == ["email"]
    assert security["type"] == "security.event" and security["namespace_id"] == 7
    assert security["data"]["detections"] == [
        {"detector": "pii", "label": "email", "action": "redact"}
    ]


def test_a_clean_request_publishes_only_its_completion(hub: FakeHub) -> None:
    broadcast.observe_request(entry())
    assert [event["type"] for event in hub.events] == ["request.completed"]
