"""Shared fixtures: a fake upstream and the proxy, both real servers on 127.0.0.1."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from proxy.fake_upstream import FakeUpstream


def _hypothesis_profile() -> None:
    """Property tests and the schemathesis fuzz run a fixed set of examples by default, so a
    CI run is repeatable; `HYPOTHESIS_PROFILE=random` explores new ones (docs/hardening.md)."""
    from hypothesis import settings as hypothesis_settings

    hypothesis_settings.register_profile("repeatable", derandomize=True)
    hypothesis_settings.register_profile("random", derandomize=False)
    hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


_hypothesis_profile()


@pytest.fixture(scope="session")
def fake_upstream_server() -> FakeUpstream:
    return FakeUpstream().start_in_thread()


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    fake_upstream_server.reset()
    yield fake_upstream_server
    fake_upstream_server.reset()


@pytest.fixture(scope="session", autouse=True)
def fast_log_flush() -> None:
    from django.conf import settings

    settings.LOG_FLUSH_SECONDS = 0.02


@pytest.fixture(scope="session", autouse=True)
def private_upstreams_allowed() -> None:
    """The fake upstream lives on loopback: the SSRF guard is off in tests (here and in
    server subprocesses, which inherit the environment); its own tests turn it on."""
    import os

    from django.conf import settings

    settings.UPSTREAM_PRIVATE_NETWORK_GUARD = False
    os.environ["UPSTREAM_PRIVATE_NETWORK_GUARD"] = "false"


@pytest.fixture(scope="session")
def proxy_url(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """The proxy's ASGI app served by uvicorn in a thread (the same app daphne serves)."""
    import uvicorn

    # Let uvicorn bind its own socket: with a socket passed in (`sockets=[...]`) every
    # keep-alive response waited ~40 ms for a delayed ACK here.
    config = uvicorn.Config(
        "llmproxy.asgi:application",
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    with django_db_blocker.unblock():
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
        thread.join(5)


@dataclass
class Gateway:
    """A namespace with a key, and a default provider pointing at the fake upstream."""

    url: str
    key: str
    namespace: Any
    api_key: Any
    provider: Any
    fake: FakeUpstream

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    def openai(self, **kwargs: Any) -> Any:
        import openai

        return openai.OpenAI(
            base_url=self.v1, api_key=kwargs.pop("api_key", self.key), max_retries=0, **kwargs
        )

    def async_openai(self, **kwargs: Any) -> Any:
        import openai

        return openai.AsyncOpenAI(
            base_url=self.v1, api_key=kwargs.pop("api_key", self.key), max_retries=0, **kwargs
        )

    def logs(self, expected: int = 1, timeout: float = 5.0) -> list[Any]:
        """The stored request logs, once `expected` of them are there (newest first)."""
        from proxy.models import RequestLog
        from proxy.runtime import get_runtime

        deadline = time.monotonic() + timeout
        while True:
            get_runtime().recorder.flush(timeout)
            rows = list(RequestLog.objects.order_by("-created_at"))
            if len(rows) >= expected or time.monotonic() > deadline:
                return rows
            time.sleep(0.02)


@pytest.fixture
def fresh_minute() -> None:
    """Start the test early in a clock minute: anomaly throttles count in fixed one-minute
    windows, and rate limits per clock minute (weighting the previous one), so a test that
    straddles a boundary would see its count reset, or fade."""
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.05)


def make_key(namespace: str = "team-a", name: str = "test", **kwargs: Any) -> tuple[str, Any]:
    from proxy.services.keys import api_key_create, namespace_get_or_create

    issued = api_key_create(namespace=namespace_get_or_create(name=namespace), name=name, **kwargs)
    return issued.secret, issued.key


@pytest.fixture
def gateway(
    transactional_db: Any, proxy_url: str, fake_upstream: FakeUpstream
) -> Iterator[Gateway]:
    from proxy.models import Provider
    from proxy.runtime import get_runtime

    get_runtime().invalidate_config()
    provider = Provider(
        name="fake", kind="openai", base_url=fake_upstream.base_url, is_default=True
    )
    provider.set_api_key("sk-fake-upstream-secret-0000")
    provider.save()
    secret, key = make_key()
    yield Gateway(proxy_url, secret, key.namespace, key, provider, fake_upstream)
    runtime = get_runtime()
    deadline = time.monotonic() + 10
    while runtime.in_flight and time.monotonic() < deadline:  # streams still relaying
        time.sleep(0.01)
    runtime.recorder.flush()
    get_runtime().invalidate_config()
