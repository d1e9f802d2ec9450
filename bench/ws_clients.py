"""N dashboard WebSocket clients in one process (the load side of bench/dashboard_ws.py).

    python bench/ws_clients.py --url http://127.0.0.1:PORT --session S --clients 1000 --sample 20

Every client reads every frame (aiohttp decodes each one); the first `--sample` clients
also parse each frame and time every event: request end (the server's `created_at` +
`latency_ms`) → frame received. Prints `ready N` once all are connected, then waits for a
line on stdin (or EOF), waits `--drain` seconds and prints one JSON line with the delays
and per-client counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp


class Tally:
    def __init__(self, clients: int) -> None:
        self.connected = 0
        self.closed = 0
        self.frames = [0] * clients
        self.events = [0] * clients
        self.dropped = [0] * clients
        self.delays: list[float] = []
        self.recording = False


async def client(
    http: aiohttp.ClientSession, url: str, session: str, n: int, sample: bool, tally: Tally
) -> None:
    ws_url = url.replace("http", "ws", 1) + "/dashboard/ws/events/"
    try:
        async with http.ws_connect(
            ws_url, headers={"cookie": f"sessionid={session}", "origin": url}, heartbeat=None
        ) as ws:
            tally.connected += 1
            async for message in ws:
                if not tally.recording:
                    continue
                tally.frames[n] += 1
                if not sample:
                    continue
                now = time.time()
                decoded = json.loads(message.data)
                tally.dropped[n] += decoded["dropped"]
                for event in decoded["events"]:
                    tally.events[n] += 1
                    data = event["data"]
                    tally.delays.append(now - (data["created_at"] + data["latency_ms"] / 1000))
    finally:
        tally.closed += 1


async def run(args: argparse.Namespace) -> None:
    tally = Tally(args.clients)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = []
        for n in range(args.clients):
            tasks.append(
                asyncio.create_task(client(http, args.url, args.session, n, n < args.sample, tally))
            )
            if n % 25 == 24:  # daphne's listen backlog is small: connect in waves
                deadline = time.monotonic() + 30
                while tally.connected < n + 1 - 5 and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        deadline = time.monotonic() + 60
        while tally.connected < args.clients and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        tally.recording = True
        print(f"ready {tally.connected}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await asyncio.sleep(args.drain)
        tally.recording = False
        result = {
            "connected": tally.connected,
            "closed_early": tally.closed,
            "frames_min": min(tally.frames),
            "frames_max": max(tally.frames),
            "sampled_events": tally.events[: args.sample],
            "sampled_dropped": sum(tally.dropped),
            "delays": tally.delays,
        }
        print(json.dumps(result), flush=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--session", required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--drain", type=float, default=1.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
