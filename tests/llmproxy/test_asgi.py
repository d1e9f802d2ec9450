"""The ASGI entry point: /v1/ through the light handler, everything else through Django's."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from django.core.signals import request_finished, request_started

from tests.conftest import Gateway


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, **kwargs: Any) -> None:
        self.calls += 1


def test_proxy_requests_skip_the_request_signals_and_keep_security_headers(
    gateway: Gateway,
) -> None:
    started, finished = Counter(), Counter()
    request_started.connect(started, weak=False)
    request_finished.connect(finished, weak=False)
    try:
        raw = gateway.openai().chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.parse().choices[0].message.content == "echo: hi"
        assert raw.headers["x-content-type-options"] == "nosniff"
        assert (started.calls, finished.calls) == (0, 0)

        health = httpx.get(gateway.url + "/healthz")  # Django's own handler
        assert health.status_code == 200
        deadline = time.monotonic() + 5  # Django sends request_finished after the response
        while finished.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (started.calls, finished.calls) == (1, 1)
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)


def test_an_unknown_proxy_path_answers_openai_json(gateway: Gateway) -> None:
    response = httpx.post(gateway.v1 + "/no/such/endpoint", json={})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Unknown endpoint /v1/no/such/endpoint."


def test_a_stream_the_client_leaves_is_recorded_as_disconnected(gateway: Gateway) -> None:
    gateway.fake.then(chunk_delay=0.2)
    with httpx.stream(
        "POST",
        gateway.v1 + "/chat/completions",
        headers={"authorization": f"Bearer {gateway.key}"},
        json={
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "one two three four five six"}],
        },
    ) as response:
        assert response.status_code == 200
        next(response.iter_raw())  # the first chunk, then hang up
    (log,) = gateway.logs(1)
    assert log.client_disconnected is True
    assert log.status_code == 499


def test_loading_the_server_freezes_start_up_objects_out_of_the_garbage_collector() -> None:
    import os
    import subprocess
    import sys

    from tests.servers import ROOT

    script = (
        "import gc, json, llmproxy.asgi;"
        "print(json.dumps([gc.get_threshold(), gc.get_freeze_count()]))"
    )

    def load(**environment: str) -> tuple[list[int], int]:
        env = {**os.environ, **environment}
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr[-2000:]
        threshold, frozen = json.loads(out.stdout.splitlines()[-1])
        return threshold, frozen

    threshold, frozen = load()
    assert threshold == [10_000, 10, 10]  # full collections rarer than with Python's (700, 10, 10)
    assert frozen > 50_000  # Django, the apps and their modules: never scanned again
    assert load(SERVER_GC_THRESHOLDS="700,10,10")[0] == [700, 10, 10]
