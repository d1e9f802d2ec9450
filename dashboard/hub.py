"""The per-process event hub: local WebSocket subscribers and the cross-process transport.

    producer (any thread) ──publish──▶ EventHub ──coalesced, on the server loop──▶ Subscribers
                                           └──sender thread──▶ transport ──▶ other processes

`publish` never blocks and never awaits: it appends to bounded deques and wakes
whoever delivers. Local delivery is coalesced into windows of
`DASHBOARD_COALESCE_SECONDS` on the event loop that serves the WebSockets; each
subscriber (one per browser) has its own bounded buffer that drops its oldest
events when the browser falls behind, so a slow or dead browser costs the proxy
nothing. Batches for other processes go through the transport on a sender
thread; batches from other processes arrive through the transport's listener.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

from django.conf import settings

from dashboard.transports import Transport, make_transport

log = logging.getLogger(__name__)

Event = dict[str, Any]

# Batches for other processes are gathered over this window (one outbox row or one
# Redis message per window, however busy the proxy is).
SHARE_WINDOW_SECONDS = 0.1


class Subscriber:
    """One browser's view of the event stream: a bounded buffer and its scope.

    `namespaces` None means every namespace (staff); otherwise the set of
    namespace ids this user may see. Events without a namespace are for staff only.
    The buffer holds events already encoded as JSON: an event is encoded once per
    process, however many browsers receive it.
    """

    def __init__(self, namespaces: frozenset[int] | None, buffer_size: int | None = None) -> None:
        self.namespaces = namespaces
        self.buffer: deque[str] = deque(maxlen=buffer_size or settings.DASHBOARD_CLIENT_BUFFER)
        self.ready = asyncio.Event()
        self.dropped = 0

    def offer(self, encoded: Iterable[tuple[int | None, str]]) -> None:
        """Called on the loop with (namespace_id, JSON) pairs; keeps what this subscriber
        may see, dropping its oldest events when the buffer is full."""
        added = False
        buffer = self.buffer
        scope = self.namespaces
        for namespace_id, text in encoded:
            if scope is None or namespace_id in scope:
                if len(buffer) == buffer.maxlen:
                    self.dropped += 1
                buffer.append(text)
                added = True
        if added:
            self.ready.set()

    async def take(self) -> tuple[list[str], int]:
        """Wait for events; return them all (JSON) with the count dropped since the last take."""
        await self.ready.wait()
        self.ready.clear()
        events = list(self.buffer)
        self.buffer.clear()
        dropped, self.dropped = self.dropped, 0
        return events, dropped


def frame(events: list[str], dropped: int) -> str:
    """The WebSocket frame for a batch of encoded events."""
    return '{"events":[' + ",".join(events) + '],"dropped":' + str(dropped) + "}"


class EventHub:
    """One per process (`get_hub()`). Thread-safe producers; subscribers live on one loop."""

    def __init__(self, transport: Transport | None = None) -> None:
        self.origin = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._transport = transport if transport is not None else make_transport()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscriber] = set()
        self._pending: deque[Event] = deque(maxlen=settings.DASHBOARD_HUB_BUFFER)
        self._flush_scheduled = False
        self._outbox: deque[Event] = deque(maxlen=settings.DASHBOARD_HUB_BUFFER)
        self._outbox_ready = threading.Event()
        self._sender: threading.Thread | None = None
        self._listening = False
        self.published = 0
        self.dropped = 0

    # --- producers (any thread, never blocks) ------------------------------------------
    def publish(self, event: Event) -> None:
        self.published += 1
        self.deliver_local([event])
        if self._transport.shares:
            if len(self._outbox) == self._outbox.maxlen:
                self.dropped += 1
            self._outbox.append(event)
            if self._sender is None:
                self._start_sender()
            self._outbox_ready.set()

    def deliver_local(self, events: list[Event]) -> None:
        """Queue events for this process's subscribers (from any thread)."""
        loop = self._loop
        if loop is None or not self._subscribers:
            return
        with self._lock:
            room = self._pending.maxlen or 0
            overflow = len(self._pending) + len(events) - room
            if overflow > 0:
                self.dropped += overflow
            self._pending.extend(events)
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_later(settings.DASHBOARD_COALESCE_SECONDS, self._flush)
        else:
            try:
                loop.call_soon_threadsafe(
                    loop.call_later, settings.DASHBOARD_COALESCE_SECONDS, self._flush
                )
            except RuntimeError:  # the loop is closed: nobody is listening any more
                with self._lock:
                    self._flush_scheduled = False
                    self._pending.clear()

    def _flush(self) -> None:
        with self._lock:
            events = list(self._pending)
            self._pending.clear()
            self._flush_scheduled = False
        if not events:
            return
        encoded = [(event.get("namespace_id"), json.dumps(event)) for event in events]
        for subscriber in list(self._subscribers):
            subscriber.offer(encoded)

    # --- subscribers (on the server's event loop) --------------------------------------
    def subscribe(self, namespaces: frozenset[int] | None) -> Subscriber:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new server loop (tests start one per test)
            with self._lock:
                self._loop = loop
                self._pending.clear()
                self._flush_scheduled = False
        subscriber = Subscriber(namespaces)
        self._subscribers.add(subscriber)
        if not self._listening and self._transport.shares:
            self._listening = True
            self._transport.listen(self.origin, self.deliver_local)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def outbox_depth(self) -> int:
        return len(self._outbox)

    # --- sender thread: coalesced batches to other processes ---------------------------
    def _start_sender(self) -> None:
        with self._lock:
            if self._sender is not None:
                return
            self._sender = threading.Thread(
                target=self._send_forever, name="llmproxy-dashboard-events", daemon=True
            )
            self._sender.start()

    def _send_forever(self) -> None:
        while True:
            if not self._outbox_ready.wait(timeout=1.0):
                self._transport.idle()  # quiet: hold no database connection meanwhile
                self._outbox_ready.wait()
            time.sleep(SHARE_WINDOW_SECONDS)
            self._outbox_ready.clear()
            self.send_pending()

    def send_pending(self) -> int:
        """Send what is waiting for other processes (also called at exit and in tests)."""
        batch: list[Event] = []
        while self._outbox:
            batch.append(self._outbox.popleft())
        if not batch:
            return 0
        try:
            self._transport.send(self.origin, batch)
        except Exception:
            self.dropped += len(batch)
            log.warning("dashboard events: %d not shared with other processes", len(batch))
            log.debug("transport failure", exc_info=True)
        return len(batch)

    def close(self) -> None:
        self.send_pending()
        self._transport.close()
