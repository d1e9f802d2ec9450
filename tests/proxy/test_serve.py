"""`manage.py serve` (what `make run` starts) as a real process tree: daphne + django-q2.

Each test gets a throwaway DATA_DIR (SQLite), a provider from OPENAI_BASE_URL pointing
at the fake upstream, and a key from `create_api_key`; then it talks to the server
with the openai SDK. The log writer is told to wait 60 s before writing, so records
that reach the database were written by the shutdown flush.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from proxy.fake_upstream import FakeUpstream
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

# These tests run the server on their own throwaway SQLite database, whatever the
# suite's database is: once per `make test` is enough.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="serve is tested in the SQLite run"
)


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    key: str
    env: dict[str, str]
    data_dir: Path

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def client(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key or self.key, max_retries=0)

    def children(self) -> list[int]:
        pid = self.process.pid
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]

    def stored(self) -> dict[str, tuple[int, int]]:
        with sqlite3.connect(self.data_dir / "llmproxy.sqlite3") as db:
            rows = db.execute("select id, status_code, stream from proxy_requestlog").fetchall()
        return {row[0]: (row[1], row[2]) for row in rows}


@pytest.fixture
def prepared(tmp_path: Path, fake_upstream: FakeUpstream) -> Served:
    """A migrated throwaway database with a key; no server yet."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "llmproxy.settings",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "OPENAI_BASE_URL": fake_upstream.base_url,
        "OPENAI_API_KEY": "sk-fake-upstream-secret",
        "LOG_FLUSH_SECONDS": "60",
        "LOG_BATCH_SIZE": "100000",
        "CONFIG_REFRESH_SECONDS": "0.5",
    }
    setup = Served(None, "", "", env, tmp_path)  # type: ignore[arg-type]
    setup.manage("migrate", "--no-input", "-v", "0")
    setup.manage("sync_providers")  # what `serve` does; a bare uvicorn needs it done
    setup.key = setup.manage("create_api_key", "--namespace", "serve", "--name", "t").splitlines()[
        -1
    ]
    return setup


def start(prepared: Served, command: list[str], port: int) -> Served:
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=prepared.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{command} did not start:\n" + (process.stdout.read() or ""))  # type: ignore[union-attr]
            time.sleep(0.1)
    return Served(process, url, prepared.key, prepared.env, prepared.data_dir)


@pytest.fixture
def served(prepared: Served) -> Iterator[Served]:
    port = free_port()
    server = start(prepared, [sys.executable, "manage.py", "serve", "--port", str(port)], port)
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def test_serve_flushes_every_record_and_stops_both_children_on_sigterm(served: Served) -> None:
    client = served.client()
    sent = {}
    for i in range(4):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"hello {i}"}]
        )
        assert raw.parse().choices[0].message.content == f"echo: hello {i}"
        sent[raw.headers["x-llmproxy-request-id"]] = (200, 0)
    for i in range(3):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"stream {i}"}],
            stream=True,
        )
        text = "".join(
            chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices
        )
        assert text == f"echo: stream {i}"
        sent[raw.headers["x-llmproxy-request-id"]] = (200, 1)
    children = served.children()
    assert len(children) == 2  # daphne and the django-q2 cluster
    assert served.stored() == {}  # nothing written yet: the writer waits for its batch

    served.process.send_signal(signal.SIGTERM)
    output, _ = served.process.communicate(timeout=60)

    assert served.process.returncode == 0, output
    assert "daphne exited with status 0." in output
    # The worker has no records to flush; under load it may not have installed its
    # own handler yet and so stop by the signal itself.
    assert re.search(r"qcluster exited with status (0|-15)\.", output), output
    assert all(not Path(f"/proc/{pid}").exists() for pid in children)
    assert served.stored() == sent


def test_a_key_revoked_by_another_process_is_refused_within_a_second(served: Served) -> None:
    second = served.manage("create_api_key", "--namespace", "serve", "--name", "other")
    key = second.splitlines()[-1]
    client = served.client(key)
    deadline = time.monotonic() + 5  # the new key is picked up like any change
    while True:
        try:
            client.models.list()
            break
        except openai.AuthenticationError:
            assert time.monotonic() < deadline, "the new key was never accepted"
            time.sleep(0.05)

    served.manage("revoke_api_key", key[:12])
    revoked_at = time.monotonic()
    while True:
        try:
            client.models.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            break
        time.sleep(0.05)
        assert time.monotonic() - revoked_at < 3, "the revoked key was still accepted after 3 s"
    assert time.monotonic() - revoked_at < 1.5
    served.process.send_signal(signal.SIGTERM)
    served.process.communicate(timeout=60)


def test_uvicorn_flushes_every_record_on_sigterm(prepared: Served) -> None:
    """uvicorn re-raises SIGTERM (no atexit): the ASGI lifespan shutdown flushes the log."""
    port = free_port()
    server = start(
        prepared,
        [sys.executable, "-m", "uvicorn", "llmproxy.asgi:application", "--port", str(port)],
        port,
    )
    try:
        client = server.client()
        sent = set()
        for i in range(3):
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"hi {i}"}]
            )
            raw.parse()
            sent.add(raw.headers["x-llmproxy-request-id"])
        assert server.stored() == {}
        server.process.send_signal(signal.SIGTERM)
        server.process.communicate(timeout=60)
        assert set(server.stored()) == sent
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
