"""Dashboard personas (staff, viewer of team-a, outsider) and a WebSocket client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator


@pytest.fixture
def hub() -> Iterator[Any]:
    """A fresh process hub that keeps events in this process (restored afterwards)."""
    from django.apps import apps

    from dashboard.hub import EventHub
    from dashboard.transports import LocalTransport

    config = apps.get_app_config("dashboard")
    previous = getattr(config, "hub", None)
    config.hub = EventHub(transport=LocalTransport())
    yield config.hub
    config.hub = previous


@pytest.fixture
def personas(transactional_db: Any) -> dict[str, Any]:
    from django.contrib.auth.models import User

    from dashboard.models import NamespaceMembership
    from proxy.services.keys import namespace_get_or_create

    team_a = namespace_get_or_create(name="team-a")
    team_b = namespace_get_or_create(name="team-b")
    staff = User.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    viewer = User.objects.create_user("viewer", password="pw-viewer-123")
    NamespaceMembership.objects.create(user=viewer, namespace=team_a)
    outsider = User.objects.create_user("outsider", password="pw-outsider-123")
    return {
        "staff": staff,
        "viewer": viewer,
        "outsider": outsider,
        "team_a": team_a,
        "team_b": team_b,
    }


def session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def connect(user: Any | None) -> tuple[WebsocketCommunicator, bool]:
    from asgiref.sync import sync_to_async

    from llmproxy.asgi import application

    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, "/dashboard/ws/events/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected
