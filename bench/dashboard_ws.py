"""WebSocket load: N dashboard clients on one daphne process while the proxy serves traffic.

    python bench/dashboard_ws.py --clients 1000 --requests 300

Measures, in one run on a fresh SQLite data directory:
  1. the proxy's added latency (median of proxied minus direct-to-upstream), no clients;
  2. the same with N WebSocket clients connected to the dashboard and reading;
  3. event delivery: request end (created_at + latency) → frame received, on a sample of
     clients (all N receive every event; the sample parses them).
Server and load generator share this machine's cores: read ratios, not absolute rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(env: dict[str, str], upstream_url: str) -> tuple[str, str]:
    """Migrate, create a staff session, a key and a provider; returns (session, key)."""
    script = f"""
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
from proxy.models import Provider
from proxy.services.keys import api_key_create, namespace_get_or_create
user = User.objects.create_user("bench", password="x", is_staff=True)
client = Client(); client.force_login(user)
provider = Provider(name="fake", kind="openai", base_url="{upstream_url}", is_default=True)
provider.set_api_key("sk-bench-0000000000"); provider.save()
issued = api_key_create(namespace=namespace_get_or_create(name="bench"), name="bench")
print(client.cookies["sessionid"].value, issued.secret)
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    session, key = out.stdout.split()[-2:]
    return session, key


async def proxy_latencies(
    http: aiohttp.ClientSession, url: str, key: str, upstream: str, n: int
) -> tuple[float, float, float]:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hello bench"}]}
    direct, proxied = [], []
    for _ in range(n):
        started = time.perf_counter()
        async with http.post(upstream + "/chat/completions", json=body) as r:
            await r.read()
        direct.append(time.perf_counter() - started)
        started = time.perf_counter()
        async with http.post(
            url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        ) as r:
            assert r.status == 200, await r.text()
            await r.read()
        proxied.append(time.perf_counter() - started)
    med_direct, med_proxied = statistics.median(direct), statistics.median(proxied)
    return med_direct * 1000, med_proxied * 1000, (med_proxied - med_direct) * 1000


async def client(
    http: aiohttp.ClientSession, url: str, session: str, delays: list[float] | None,
    ready: asyncio.Event, counter: list[int], total: int,
) -> None:  # fmt: skip
    ws_url = url.replace("http", "ws") + "/dashboard/ws/events/"
    async with http.ws_connect(
        ws_url, headers={"cookie": f"sessionid={session}", "origin": url}, heartbeat=None
    ) as ws:
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        async for message in ws:
            if delays is None:
                continue
            now = time.time()
            for event in json.loads(message.data)["events"]:
                data = event["data"]
                delays.append(now - (data["created_at"] + data["latency_ms"] / 1000))


async def run(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from proxy.fake_upstream import FakeUpstream

    fake = FakeUpstream(record_requests=False).start_in_thread()
    data_dir = tempfile.mkdtemp(prefix="llmproxy-wsbench-")
    env = {**os.environ, "DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "llmproxy.settings"}
    env.pop("DATABASE_URL", None)
    session, key = prepare(env, fake.base_url)
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220  (before any request is in flight)
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "llmproxy.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(100):
                try:
                    async with http.get(url + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
            await proxy_latencies(http, url, key, fake.base_url, 50)  # warm up
            base = await proxy_latencies(http, url, key, fake.base_url, args.requests)
            print(f"no clients:      direct {base[0]:.2f} ms, proxied {base[1]:.2f} ms, "
                  f"added {base[2]:.2f} ms")  # fmt: skip

            delays: list[float] = []
            ready, counter = asyncio.Event(), [0]
            tasks = []
            for n in range(args.clients):
                sample = delays if n < args.sample else None
                tasks.append(asyncio.create_task(
                    client(http, url, session, sample, ready, counter, args.clients)))  # fmt: skip
                if n % 25 == 24:  # daphne's listen backlog is small: connect in small waves
                    while counter[0] < n + 1 - 5:  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
            await asyncio.wait_for(ready.wait(), 120)
            print(f"{counter[0]} WebSocket clients connected")
            loaded = await proxy_latencies(http, url, key, fake.base_url, args.requests)
            await asyncio.sleep(1)
            print(f"{args.clients} clients:  direct {loaded[0]:.2f} ms, proxied {loaded[1]:.2f} ms, "
                  f"added {loaded[2]:.2f} ms ({(loaded[2] / base[2] - 1) * 100:+.0f}% vs no clients)")  # fmt: skip
            delays.sort()
            if delays:
                p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000  # noqa: E731
                print(f"event delivery over {len(delays)} receipts ({args.sample} sampled clients): "
                      f"p50 {p(0.5):.1f} ms, p95 {p(0.95):.1f} ms, p99 {p(0.99):.1f} ms, max {delays[-1] * 1000:.1f} ms")  # fmt: skip
            for task in tasks:
                task.cancel()
    finally:
        server.terminate()
        server.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--sample", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
