"""WebSocket consumer: translates hub events into frames for one browser. No logic here.

Frames sent: `{"events": [...], "dropped": n}`, one per coalesced batch, where
`dropped` counts events this browser missed because it fell behind. Under daphne the
hub writes frames to the socket itself (`dashboard.sinks`); elsewhere a pump task per
browser sends them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard.broadcast import get_hub
from dashboard.hub import Subscriber, frame
from dashboard.selectors import user_can_view_dashboard, visible_namespace_ids
from dashboard.sinks import DaphneSink


@database_sync_to_async
def _scope_for(user: Any) -> tuple[bool, frozenset[int] | None]:
    if not user_can_view_dashboard(user):
        return False, frozenset()
    return True, visible_namespace_ids(user)


class EventsConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel per browser: the process's hub holds one subscription
    # for all its browsers (see dashboard.transports), however many are connected.
    channel_layer_alias = "dashboard-hub-only"
    subscriber: Subscriber | None = None
    pump: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        allowed, namespaces = await _scope_for(self.scope.get("user"))
        if not allowed:
            await self.close(code=4403)
            return
        self.subscriber = get_hub().subscribe(namespaces)
        await self.accept()
        if DaphneSink.attach(self.base_send, self.subscriber) is None:
            self.pump = asyncio.create_task(self._pump(self.subscriber))

    async def _pump(self, subscriber: Subscriber) -> None:
        while True:
            events, dropped = await subscriber.take()
            await self.send(text_data=frame(events, dropped))

    async def disconnect(self, code: int) -> None:
        if self.subscriber is not None:
            get_hub().unsubscribe(self.subscriber)
            if self.subscriber.sink is not None:
                self.subscriber.sink.detach()
            self.subscriber = None
        if self.pump is not None:
            self.pump.cancel()
            self.pump = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "ping":
            await self.send(text_data='{"pong": true}')
