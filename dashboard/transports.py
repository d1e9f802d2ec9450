"""How dashboard events cross process boundaries (a django-q2 worker → the web server).

`DASHBOARD_EVENT_TRANSPORT` picks one from `TRANSPORTS` (dotted paths):

- `channels`: the configured channel layer (channels-redis when `REDIS_URL` is set).
  One group member per process, not per browser: a process relays to its own subscribers.
- `database`: an outbox table polled every `DASHBOARD_POLL_SECONDS` by each process that
  serves WebSockets (the embedded default: works on SQLite and PostgreSQL, no extra service).
- `local`: this process only (tests, single-process setups).
- `auto` (default): `channels` when the channel layer is not the in-memory one, else `database`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

Deliver = Callable[[list[dict[str, Any]]], None]

GROUP = "llmproxy.dashboard"

TRANSPORTS = {
    "local": "dashboard.transports.LocalTransport",
    "database": "dashboard.transports.DatabaseTransport",
    "channels": "dashboard.transports.ChannelLayerTransport",
}


class Transport(Protocol):
    shares: bool

    def send(self, origin: str, events: list[dict[str, Any]]) -> None: ...

    def listen(self, origin: str, deliver: Deliver) -> None: ...

    def idle(self) -> None: ...

    def close(self) -> None: ...


def make_transport() -> Transport:
    name = settings.DASHBOARD_EVENT_TRANSPORT
    if name == "auto":
        backend = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
        name = "database" if backend.endswith("InMemoryChannelLayer") or not backend else "channels"
    factory: Callable[[], Transport] = import_string(TRANSPORTS[name])
    return factory()


class LocalTransport:
    """Nothing leaves the process."""

    shares = False

    def send(self, origin: str, events: list[dict[str, Any]]) -> None:
        return None

    def listen(self, origin: str, deliver: Deliver) -> None:
        return None

    def idle(self) -> None:
        return None

    def close(self) -> None:
        return None


class DatabaseTransport:
    """An outbox table: one row per coalesced batch; listeners poll for other origins."""

    shares = True

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._last_prune = 0.0
        self.ready = threading.Event()  # set once the listener knows where the outbox ends

    def send(self, origin: str, events: list[dict[str, Any]]) -> None:
        from django.db import connection

        from dashboard.models import EventOutbox

        try:
            EventOutbox.objects.create(origin=origin, events=events)
            self._prune()
        except Exception:
            connection.close()
            raise

    def idle(self) -> None:
        from django.db import connection

        connection.close()

    def _prune(self) -> None:
        from django.utils import timezone

        from dashboard.models import EventOutbox

        now = time.monotonic()
        if now - self._last_prune < 10:
            return
        self._last_prune = now
        cutoff = timezone.now() - timedelta(seconds=settings.DASHBOARD_OUTBOX_KEEP_SECONDS)
        EventOutbox.objects.filter(created_at__lt=cutoff).delete()

    def listen(self, origin: str, deliver: Deliver) -> None:
        threading.Thread(
            target=self._poll_forever,
            args=(origin, deliver),
            name="llmproxy-dashboard-poller",
            daemon=True,
        ).start()

    def _poll_forever(self, origin: str, deliver: Deliver) -> None:
        from django.db import close_old_connections, connection
        from django.db.models import Max

        from dashboard.models import EventOutbox

        last_id: int | None = None
        while last_id is None and not self._stop.is_set():
            try:
                last_id = EventOutbox.objects.aggregate(m=Max("id"))["m"] or 0
            except Exception:
                log.warning("dashboard event outbox unreachable; retrying", exc_info=True)
                connection.close()
                self._stop.wait(1)
        self.ready.set()
        while not self._stop.wait(settings.DASHBOARD_POLL_SECONDS):
            try:
                close_old_connections()
                rows = list(
                    EventOutbox.objects.filter(id__gt=last_id)
                    .order_by("id")
                    .values_list("id", "origin", "events")[:200]
                )
                for row_id, row_origin, events in rows:
                    last_id = row_id
                    if row_origin != origin:
                        deliver(events)
            except Exception:
                log.warning("dashboard event poll failed; retrying", exc_info=True)
                connection.close()
                time.sleep(1)
        connection.close()

    def close(self) -> None:
        self._stop.set()


class ChannelLayerTransport:
    """The configured channel layer (Redis): one group, one member per listening process."""

    shares = True

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()
        self.ready = threading.Event()  # set once this process is in the group
        self._instance: Any = None
        self._receiving: Any = None

    def _layer(self) -> Any:
        """Our own instance of the default layer, used only from our own loop thread."""
        from channels.layers import channel_layers

        if self._instance is None:
            self._instance = channel_layers.make_backend("default")
        return self._instance

    def _thread_loop(self) -> asyncio.AbstractEventLoop:
        """A long-lived loop on its own thread (channels-redis pools connections per loop)."""
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="llmproxy-dashboard-layer", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    def send(self, origin: str, events: list[dict[str, Any]]) -> None:
        message = {"type": "dashboard.events", "origin": origin, "events": events}
        future = asyncio.run_coroutine_threadsafe(
            self._layer().group_send(GROUP, message), self._thread_loop()
        )
        future.result(timeout=5)

    def listen(self, origin: str, deliver: Deliver) -> None:
        self._receiving = asyncio.run_coroutine_threadsafe(
            self._receive_forever(origin, deliver), self._thread_loop()
        )

    async def _receive_forever(self, origin: str, deliver: Deliver) -> None:
        layer = self._layer()
        channel = await layer.new_channel()
        await layer.group_add(GROUP, channel)
        self.ready.set()
        refreshed = time.monotonic()
        while True:
            try:
                message = await layer.receive(channel)
            except Exception:
                log.warning("dashboard event receive failed; retrying", exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("origin") != origin:
                deliver(list(message.get("events") or []))
            if time.monotonic() - refreshed > 3600:  # keep the group membership alive
                await layer.group_add(GROUP, channel)
                refreshed = time.monotonic()

    def idle(self) -> None:
        return None

    def close(self) -> None:
        """Stop receiving and stop this transport's loop thread."""
        if self._receiving is not None:
            self._receiving.cancel()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
