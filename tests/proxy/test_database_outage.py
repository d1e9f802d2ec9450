"""The database goes away under load: the proxy keeps serving, and loses no log record.

PostgreSQL only. The proxy runs in its own process (uvicorn) against a database
of its own, reached through a TCP relay this test controls: cutting the relay
drops every connection and refuses new ones, as a dead database server would,
without touching the PostgreSQL server other tests share.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from proxy.fake_upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "12"))

pytestmark = pytest.mark.skipif(
    not settings.DATABASE_IS_POSTGRES, reason="the outage test needs PostgreSQL"
)


class Relay:
    """A TCP relay on 127.0.0.1 to PostgreSQL that can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.cut = False
        self.port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()
                self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def set_cut(self, cut: bool) -> None:
        def apply() -> None:
            self.cut = cut
            if cut:
                for writer in list(self._writers):
                    writer.transport.abort()
                self._writers.clear()

        self._loop.call_soon_threadsafe(apply)


def psql(database: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=database,
        autocommit=True,
    ) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


SETUP = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from proxy.models import Provider
from proxy.services.keys import api_key_create, namespace_get_or_create
provider = Provider(name="fake", kind="openai", base_url=BASE_URL, is_default=True,
                    allow_private_network=True)
provider.set_api_key("sk-outage-upstream")
provider.save()
namespace = namespace_get_or_create(name="outage")
print(api_key_create(namespace=namespace, name="k").secret)
print(api_key_create(namespace=namespace, name="budgeted", budget_usd=5).secret)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def outage_world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    db = settings.DATABASES["default"]
    name = f"{settings.DATABASES['default']['NAME']}_outage"
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{name}"')
    fake = FakeUpstream().start_in_thread()
    relay = Relay((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    user = db["USER"] or "postgres"
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATA_DIR": str(tmp_path),
        "LOG_SPILL_DIR": str(tmp_path / "spill"),
        "LOG_FLUSH_SECONDS": "0.1",
        "CONFIG_REFRESH_SECONDS": "0.5",
        "DATABASE_POOL_MAX": "4",
        "DEBUG": "false",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "llmproxy.settings",
    }
    direct = f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    setup = subprocess.run(
        [sys.executable, "-c", f"BASE_URL = {fake.base_url!r}\n" + SETUP],
        env={**env, "DATABASE_URL": direct},
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    key, budgeted_key = setup.stdout.strip().splitlines()[-2:]
    port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "llmproxy.asgi:application",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**env, "DATABASE_URL": f"postgres://{user}@127.0.0.1:{relay.port}/{name}"},
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield {"url": url, "key": key, "budgeted_key": budgeted_key, "relay": relay, "proxy": proxy, "db": name,
           "spill": tmp_path / "spill"}  # fmt: skip
    if proxy.poll() is None:
        proxy.kill()
    proxy.wait(10)
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def send_for(world: dict[str, Any], seconds: float, served: list[str], failed: list[str]) -> None:
    """Requests back to back, four at a time, for a while."""

    async def worker(client: httpx.AsyncClient, stop_at: float) -> None:
        while time.monotonic() < stop_at:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "during"}]},
            )
            (served if response.status_code == 200 else failed).append(
                f"{response.status_code} {response.text[:200]}"
            )

    async def run() -> None:
        headers = {"authorization": f"Bearer {world['key']}"}
        async with httpx.AsyncClient(base_url=world["url"], headers=headers, timeout=30) as client:
            stop_at = time.monotonic() + seconds
            await asyncio.gather(*(worker(client, stop_at) for _ in range(4)))

    asyncio.run(run())


def ask(world: dict[str, Any], key: str) -> httpx.Response:
    return httpx.post(
        world["url"] + "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "during"}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def stored(world: dict[str, Any]) -> int:
    return int(psql(world["db"], "SELECT count(*) FROM proxy_requestlog")[0][0])


def test_the_proxy_serves_through_a_database_outage_and_loses_no_record(
    outage_world: dict[str, Any],
) -> None:
    world = outage_world
    served: list[str] = []
    failed: list[str] = []

    send_for(world, 3, served, failed)  # warm: snapshot loaded, records flowing
    before = len(served)
    world["relay"].set_cut(True)
    send_for(world, OUTAGE_SECONDS, served, failed)
    during = len(served) - before
    # A budget never checked before (its spend is in the database) admits: fail-open.
    first_budget_check = ask(world, world["budgeted_key"])
    # A key the configuration snapshot does not know cannot be checked: 503, not 500.
    unknown_key = ask(world, "lp-created-after-the-snapshot-loaded")
    spilled_during_outage = list(world["spill"].glob("spill-*.jsonl"))
    world["relay"].set_cut(False)
    send_for(world, 3, served, failed)

    assert failed == [], f"{len(failed)} requests failed, first: {failed[:3]}"
    assert before > 0 and during > 0
    assert first_budget_check.status_code == 200, first_budget_check.text
    assert unknown_key.status_code == 503, unknown_key.text
    assert unknown_key.json()["error"]["code"] == "key_store_unavailable"
    served += ["budgeted", "unknown key (503, logged)"]
    assert spilled_during_outage, "no record went to a spill file during the outage"
    deadline = time.monotonic() + 60
    while stored(world) < len(served) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stored(world) == len(served)
    print(
        f"served {len(served)} ({during} during a {OUTAGE_SECONDS:.0f} s outage), stored {stored(world)}"
    )

    world["proxy"].send_signal(signal.SIGTERM)  # a clean stop loses nothing either
    world["proxy"].wait(30)
    assert stored(world) == len(served)
    assert not list(world["spill"].glob("spill-*.jsonl"))
