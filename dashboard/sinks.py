"""Writing event frames straight to daphne's WebSocket connections.

A consumer's `send` goes through channels (`AsyncWebsocketConsumer.send` → session
middleware → daphne's `Server.handle_reply` coroutine → `WebSocketProtocol.handle_reply`
→ autobahn `sendMessage`, which formats debug-log arguments on every call → twisted
`transport.write`, which registers the socket with the reactor and writes on the next
loop turn): a task switch, a coroutine and two `epoll_ctl` calls per browser per frame.
Under daphne the hub skips those layers for event frames: its fan-out pass frames each
scope's message once (autobahn's `PreparedMessage`) and hands the same bytes to every
browser of that scope, written with one `send()` on the socket when twisted holds nothing
queued for it (otherwise through `transport.write`, which keeps the order). Nothing is lost
by skipping the layers: the session middleware only acts on `http.response.start`, daphne's
`handle_reply` only checks that the connection is open (done here with the protocol's
state), and daphne never negotiates compression.

A browser that stops reading: once more than `BACKLOG_BYTES` (64 KiB) wait unsent in
twisted for it, its events wait in the subscriber's bounded buffer instead (oldest dropped,
counted in `dropped`) and go out as one frame in the first pass after it catches up; a
browser behind for longer than `DASHBOARD_CLIENT_STALL_SECONDS` is disconnected. So a
stalled browser holds at most the kernel's socket buffer, 64 KiB plus one frame in twisted
and `DASHBOARD_CLIENT_BUFFER` events in the hub.

This reads twisted's transport internals (`socket`, `dataBuffer`, `offset`,
`_tempDataLen`); `attach` checks they exist and returns None otherwise, as it does under
any other server (uvicorn, channels' test communicator): the consumer then keeps its
per-browser pump task and channels' `send`.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from dashboard.hub import Subscriber

log = logging.getLogger(__name__)


def daphne_protocol(send: Any) -> Any | None:
    """The daphne WebSocket protocol behind an ASGI `send`, through channels' wrappers."""
    for _ in range(8):
        if isinstance(send, functools.partial):
            func = send.func
            if getattr(func, "__name__", "") == "handle_reply" and send.args:
                protocol = send.args[0]
                needed = ("sendPreparedMessage", "sendMessage", "registerProducer", "state")
                if all(hasattr(protocol, name) for name in needed):
                    return protocol
            return None
        owner = getattr(send, "__self__", None)  # channels' InstanceSessionWrapper.send
        inner = getattr(owner, "real_send", None)
        if inner is None:
            return None
        send = inner
    return None


def prepare(payload: bytes) -> bytes:
    """A text frame as sent on the wire, framed once for every browser (server frames are
    not masked; permessage-deflate is never negotiated by daphne)."""
    from autobahn.websocket.protocol import PreparedMessage

    return bytes(PreparedMessage(payload, False, False, False).payloadHybi)


def unsent(transport: Any) -> int:
    """Bytes twisted holds for this connection, not yet accepted by the kernel."""
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


TRANSPORT_ATTRIBUTES = ("socket", "dataBuffer", "offset", "_tempDataLen", "write", "connected")


class DaphneSink:
    """Writes framed events to one daphne WebSocket connection."""

    # Beyond this many unsent bytes the browser is behind: its events wait in its buffer.
    BACKLOG_BYTES = 64 * 1024

    def __init__(self, protocol: Any, subscriber: Subscriber) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        self.subscriber = subscriber
        self.behind_since: float | None = None
        self.closed = False

    @classmethod
    def attach(cls, send: Any, subscriber: Subscriber) -> DaphneSink | None:
        protocol = daphne_protocol(send)
        if protocol is None or protocol.state != protocol.STATE_OPEN:
            return None
        transport = getattr(protocol, "transport", None)
        if not all(hasattr(transport, name) for name in TRANSPORT_ATTRIBUTES):
            return None  # not twisted's TCP transport (TLS, say): keep the pump
        sink = cls(protocol, subscriber)
        subscriber.sink = sink
        return sink

    def ready(self, now: float) -> bool:
        """Whether the browser keeps up; disconnects one behind for too long."""
        if self.closed or self.protocol.state != self.protocol.STATE_OPEN:
            return False
        if unsent(self.transport) <= self.BACKLOG_BYTES:
            self.behind_since = None
            return True
        since = self.behind_since
        if since is None:
            self.behind_since = now
        elif now - since > settings.DASHBOARD_CLIENT_STALL_SECONDS:
            self.closed = True
            log.info("dashboard: disconnecting a browser %.0f s behind", now - since)
            self.transport.abortConnection()
        return False

    def write(self, data: bytes) -> None:
        """Send a framed message: straight to the socket when nothing is queued before it
        (no reactor round trip), else through twisted's buffer (which keeps the order)."""
        transport = self.transport
        if not transport.connected or unsent(transport) or self.protocol.send_queue:
            transport.write(data)
            return
        try:
            sent = transport.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # let twisted notice the broken connection
            transport.write(data)
            return
        if sent < len(data):
            transport.write(data[sent:])

    def flush(self) -> None:
        """Send what waits in the subscriber's buffer as one frame."""
        from dashboard.hub import frame

        if self.subscriber.buffer or self.subscriber.dropped:
            events, dropped = self.subscriber.take_now()
            self.write(prepare(frame(events, dropped).encode()))

    def detach(self) -> None:
        self.closed = True
        self.subscriber.sink = None
