"""The per-process event hub: local WebSocket subscribers and the cross-process transport.

    producer (any thread) ──publish──▶ EventHub ──fan-out pass per window, on the loop──▶ browsers
                                           └──sender thread──▶ transport ──▶ other processes

`publish` never blocks and never awaits: it appends to bounded deques and wakes
whoever delivers. Local delivery is coalesced into windows (`coalesce_window`:
`DASHBOARD_COALESCE_SECONDS`, growing towards `DASHBOARD_COALESCE_MAX_SECONDS` as
browsers and the cost of a pass grow) on the event loop that serves the WebSockets.
One fan-out pass per window: each distinct scope's events are filtered, framed and
encoded once (`Batch`), then written to each browser, `DASHBOARD_FANOUT_SLICE` browsers
per loop turn so that proxied requests are served between slices. Under daphne the pass
writes straight to each browser's socket (`dashboard.sinks`); elsewhere it wakes the
browser's pump task. Each subscriber has a bounded buffer that drops its oldest events when the
browser falls behind, so a slow or dead browser costs the proxy nothing.
Batches for other processes go through the transport on a sender thread; batches from
other processes arrive through the transport's listener.
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
from typing import Any

from django.conf import settings

from dashboard.sinks import DaphneSink, prepare
from dashboard.transports import Transport, make_transport

log = logging.getLogger(__name__)

Event = dict[str, Any]

# Batches for other processes are gathered over this window (one outbox row or one
# Redis message per window, however busy the proxy is).
SHARE_WINDOW_SECONDS = 0.1
# The coalescing window reaches DASHBOARD_COALESCE_MAX_SECONDS at this many browsers.
COALESCE_FULL_AT = 1000


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
        self.sink: DaphneSink | None = None  # set when frames go straight to daphne
        self.closed = False

    def keep(self, events: list[str]) -> None:
        """Buffer events this subscriber may see (oldest dropped when full) and wake its pump."""
        if not events:
            return
        buffer = self.buffer
        overflow = len(buffer) + len(events) - (buffer.maxlen or 0)
        if overflow > 0:
            self.dropped += overflow
        buffer.extend(events)
        self.ready.set()

    async def take(self) -> tuple[list[str], int]:
        """Wait for events; return them all (JSON) with the count dropped since the last take."""
        await self.ready.wait()
        return self.take_now()

    def take_now(self) -> tuple[list[str], int]:
        """Everything buffered (JSON) and the count dropped since the last take."""
        self.ready.clear()
        events = list(self.buffer)
        self.buffer.clear()
        dropped, self.dropped = self.dropped, 0
        return events, dropped


def frame(events: list[str], dropped: int) -> str:
    """The WebSocket frame for a batch of encoded events."""
    return '{"events":[' + ",".join(events) + '],"dropped":' + str(dropped) + "}"


class Batch:
    """One fan-out pass's events: filtered, framed and encoded once per distinct scope
    (all staff browsers share one frame, all viewers of the same namespaces another)."""

    def __init__(self, encoded: list[tuple[int | None, str]]) -> None:
        self.encoded = encoded
        self._events: dict[frozenset[int] | None, list[str]] = {}
        self._prepared: dict[frozenset[int] | None, bytes] = {}

    def events_for(self, scope: frozenset[int] | None) -> list[str]:
        events = self._events.get(scope)
        if events is None:
            events = [
                text
                for namespace_id, text in self.encoded
                if scope is None or namespace_id in scope
            ]
            self._events[scope] = events
        return events

    def prepared_for(self, scope: frozenset[int] | None) -> bytes:
        prepared = self._prepared.get(scope)
        if prepared is None:
            prepared = prepare(frame(self.events_for(scope), 0).encode())
            self._prepared[scope] = prepared
        return prepared

    def deliver(self, subscriber: Subscriber, now: float) -> None:
        """Write this batch to one browser: the shared frame when it is up to date,
        else through its buffer (which counts what it drops)."""
        if subscriber.closed:
            return
        scope = subscriber.namespaces
        events = self.events_for(scope)
        if not events:
            return
        sink = subscriber.sink
        if sink is None:
            subscriber.keep(events)  # its pump task sends
        elif not sink.ready(now):
            subscriber.keep(events)  # behind: wait in its bounded buffer
        elif subscriber.buffer or subscriber.dropped:
            subscriber.keep(events)
            sink.flush()
        else:
            sink.write(self.prepared_for(scope))


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
        self.last_pass_seconds = 0.0  # loop time the last fan-out pass took

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
        window = self.coalesce_window()
        if running is loop:
            loop.call_later(window, self._flush)
        else:
            try:
                loop.call_soon_threadsafe(loop.call_later, window, self._flush)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                with self._lock:
                    self._flush_scheduled = False
                    self._pending.clear()

    def coalesce_window(self) -> float:
        """How long events gather before a fan-out pass: the configured window, growing
        with the number of browsers up to the maximum, and at least twice the loop time
        the last pass took (so fan-out uses at most about a third of the loop)."""
        base = settings.DASHBOARD_COALESCE_SECONDS
        top = max(base, settings.DASHBOARD_COALESCE_MAX_SECONDS)
        scaled = base + (top - base) * min(1.0, len(self._subscribers) / COALESCE_FULL_AT)
        return min(top, max(scaled, 2 * self.last_pass_seconds))

    # --- fan-out (on the server's event loop) ------------------------------------------
    def _flush(self) -> None:
        started = time.perf_counter()
        with self._lock:
            events = list(self._pending)
            self._pending.clear()
        if not events or not self._subscribers:
            self._pass_done(started, 0.0)
            return
        batch = Batch([(event.get("namespace_id"), json.dumps(event)) for event in events])
        self._fan_out(list(self._subscribers), 0, batch, started, 0.0)

    def _fan_out(
        self, subscribers: list[Subscriber], start: int, batch: Batch, started: float, busy: float
    ) -> None:
        """Deliver `batch` to a slice of subscribers, then let the loop breathe."""
        slice_started = time.perf_counter()
        now = time.monotonic()
        end = start + settings.DASHBOARD_FANOUT_SLICE
        for subscriber in subscribers[start:end]:
            batch.deliver(subscriber, now)
        busy += time.perf_counter() - slice_started
        start = end
        if start < len(subscribers) and self._loop is not None:
            self._loop.call_soon(self._fan_out, subscribers, start, batch, started, busy)
        else:
            self._pass_done(started, busy)

    def _pass_done(self, started: float, busy: float) -> None:
        """One pass at a time: schedule the next one if events arrived meanwhile."""
        self.last_pass_seconds = busy
        with self._lock:
            if not self._pending or self._loop is None:
                self._flush_scheduled = False
                return
            loop = self._loop
        elapsed = time.perf_counter() - started
        loop.call_later(max(0.0, self.coalesce_window() - elapsed), self._flush)

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
        subscriber.closed = True
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
