"""Fan-out from one daphne process to many browsers: shared frames, scoping, stalled browsers.

The daphne tests run the app as `make run` serves it; events reach that process through the
database outbox (as a worker's events do) and are written straight to its sockets.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.dashboard.conftest import session_cookie
from tests.servers import running_daphne


def test_every_browser_of_a_scope_gets_the_same_frame_encoded_once() -> None:
    from dashboard.hub import Batch

    batch = Batch(
        [(1, json.dumps({"n": 1})), (2, json.dumps({"n": 2})), (None, json.dumps({"n": 3}))]
    )
    staff = batch.prepared_for(None)
    assert batch.prepared_for(None) is staff  # built once, shared by every staff browser
    assert batch.prepared_for(frozenset({1})) is batch.prepared_for(frozenset({1}))
    assert [json.loads(e)["n"] for e in batch.events_for(None)] == [1, 2, 3]
    assert [json.loads(e)["n"] for e in batch.events_for(frozenset({1}))] == [1]
    assert batch.events_for(frozenset({7})) == []
    payload = staff[2:] if staff[1] < 126 else staff[4:]  # an unmasked text frame
    assert staff[0] == 0x81
    assert json.loads(payload) == {"events": [{"n": 1}, {"n": 2}, {"n": 3}], "dropped": 0}


@pytest.fixture(scope="module")
def daphne_url(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """daphne on a free port, on the test database, events shared through the outbox."""
    with (
        django_db_blocker.unblock(),
        running_daphne(
            DASHBOARD_EVENT_TRANSPORT="database",
            DASHBOARD_POLL_SECONDS="0.05",
            DASHBOARD_CLIENT_STALL_SECONDS="1",
        ) as url,
    ):
        yield url


async def share(*events: dict[str, Any]) -> None:
    """Put events in the outbox, as another process (a worker) would."""
    from dashboard.transports import DatabaseTransport

    stamped = [{"ts": time.time(), **event} for event in events]
    await asyncio.to_thread(DatabaseTransport().send, "tests", stamped)


async def open_browser(http: aiohttp.ClientSession, url: str, user: Any) -> Any:
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(user)
    return await http.ws_connect(
        url.replace("http", "ws", 1) + "/dashboard/ws/events/",
        headers={"cookie": f"sessionid={cookie}", "origin": url},
    )


async def until_listening(browser: Any) -> None:
    """The server's outbox poller starts with its first browser: ping through it."""
    for _ in range(100):
        await share({"type": "alert", "namespace_id": None, "data": {"ping": True}})
        try:
            await browser.receive_json(timeout=0.2)
            break
        except TimeoutError:
            continue
    while True:  # drain the pings
        try:
            await browser.receive_json(timeout=0.3)
        except TimeoutError:
            return


async def received(browser: Any, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(events) < count:
        frame = await browser.receive_json(timeout=max(0.01, deadline - time.monotonic()))
        events.extend(frame["events"])
    return events


@pytest.mark.django_db(transaction=True)
async def test_daphne_sends_a_viewer_only_the_events_of_their_namespaces(
    daphne_url: str, personas: dict[str, Any]
) -> None:
    team_a, team_b = personas["team_a"].id, personas["team_b"].id
    async with aiohttp.ClientSession() as http:
        staff = await open_browser(http, daphne_url, personas["staff"])
        viewer = await open_browser(http, daphne_url, personas["viewer"])
        await until_listening(staff)
        await share(
            {"type": "experiment.started", "namespace_id": team_b, "data": {"n": 1}},
            {"type": "alert", "namespace_id": None, "data": {"n": 2}},
            {"type": "experiment.started", "namespace_id": team_a, "data": {"n": 3}},
        )
        assert [e["data"]["n"] for e in await received(staff, 3)] == [1, 2, 3]
        assert [e["data"]["n"] for e in await received(viewer, 1)] == [3]
        with pytest.raises(TimeoutError):
            await viewer.receive_json(timeout=0.3)
        await staff.close()
        await viewer.close()


async def stalled_browser(url: str, cookie: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    sock.sendall(
        (
            "GET /dashboard/ws/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {url}\r\nCookie: sessionid={cookie}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += await asyncio.to_thread(sock.recv, 1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


@pytest.mark.django_db(transaction=True)
async def test_a_browser_that_stops_reading_does_not_hold_up_the_others_and_is_disconnected(
    daphne_url: str, personas: dict[str, Any]
) -> None:
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(personas["staff"])
    stalled = await stalled_browser(daphne_url, cookie)
    padding = "x" * 2000
    async with aiohttp.ClientSession() as http:
        reader = await open_browser(http, daphne_url, personas["staff"])
        await until_listening(reader)
        # Far more than the kernel buffers for the stalled socket: it falls behind.
        for burst in range(10):
            await share(
                *(
                    {"type": "alert", "namespace_id": None, "data": {"n": n, "pad": padding}}
                    for n in range(burst * 300, burst * 300 + 300)
                )
            )
            assert len(await received(reader, 300)) >= 300
        # The reader still gets each new event promptly while the other is stuck…
        stuck_since = time.monotonic()
        while time.monotonic() - stuck_since < 1.5:
            started = time.monotonic()
            await share({"type": "alert", "namespace_id": None, "data": {"n": -1}})
            [event] = await received(reader, 1)
            assert event["data"]["n"] == -1
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(0.2)
        # …and the stuck one, behind for longer than DASHBOARD_CLIENT_STALL_SECONDS, is cut off.
        stalled.settimeout(5)
        cut_off = False
        try:
            while await asyncio.to_thread(stalled.recv, 1 << 20):
                pass
            cut_off = True  # EOF after what was already sent
        except ConnectionResetError:
            cut_off = True
        except TimeoutError:
            cut_off = False
        assert cut_off
        stalled.close()
        await reader.close()
