"""Proxy server processes for tests: uvicorn or daphne subprocesses on loopback sharing the
test database (and a Redis database), as several production processes share theirs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The test database, as a URL a server process can be given."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_server(
    port: int, *, redis_url: str, uvicorn_args: tuple[str, ...] = (), **environment: str
) -> subprocess.Popen[bytes]:
    """`uvicorn llmproxy.asgi:application` on 127.0.0.1:`port`, on the test database and
    `redis_url`, with this process's secrets; `environment` adds or overrides variables."""
    from django.conf import settings

    env = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith(("_API_KEY", "_BASE_URL")) and name != "TEST_DATABASE_NAME"
    }
    env.update(
        DATABASE_URL=database_url(),
        DATABASE_POOL="false",
        REDIS_URL=redis_url,
        SECRET_KEY=settings.SECRET_KEY,
        ENCRYPTION_KEY=settings.ENCRYPTION_KEY,
        DJANGO_SETTINGS_MODULE="llmproxy.settings",
        LOG_LEVEL="WARNING",
        **environment,
    )
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "llmproxy.asgi:application"),
            *("--port", str(port), "--lifespan", "off", "--log-level", "warning"),
            "--no-access-log",
            *uvicorn_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def stop_servers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_daphne(**environment: str) -> Iterator[str]:
    """The app served by daphne (as `make run` serves it) on a free port, on the test
    database; yields its URL. `environment` adds or overrides variables."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATABASE_POOL": "false",
        "DJANGO_SETTINGS_MODULE": "llmproxy.settings",
        **environment,
    }
    # stderr to a file, not a pipe: nobody reads it while daphne runs
    with tempfile.TemporaryFile() as errors:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "llmproxy.asgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
        try:
            wait_for_port(port, server, errors)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_servers([server])


def wait_for_port(port: int, server: subprocess.Popen[bytes], errors: Any) -> None:
    deadline = time.monotonic() + 30
    while True:
        if server.poll() is not None:
            errors.seek(0)
            output = errors.read().decode(errors="replace")[-4000:]
            raise AssertionError(f"daphne exited with {server.returncode}:\n{output}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError("daphne did not start") from None
            time.sleep(0.1)
