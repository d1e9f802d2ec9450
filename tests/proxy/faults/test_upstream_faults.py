"""Upstream faults reach the caller as a clear error in its own API, and are logged."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.proxy.faults.conftest import Caller

TIMEOUT_TYPES = {"openai": "timeout", "anthropic": "timeout_error"}
UPSTREAM_TYPES = {"openai": "upstream_error", "anthropic": "api_error"}


def set_provider(caller: Caller, **fields: object) -> None:
    from proxy.runtime import get_runtime

    for name, value in fields.items():
        setattr(caller.gateway.provider, name, value)
    caller.gateway.provider.save()
    get_runtime().invalidate_config()


def test_an_upstream_timeout_is_a_504_in_the_callers_format(caller: Caller) -> None:
    set_provider(caller, timeout_seconds=0.3)
    caller.gateway.fake.then(delay=1.5)
    started = time.monotonic()
    with pytest.raises(caller.status_error) as caught:
        caller.create()
    assert time.monotonic() - started < 1.4, "the proxy waited past the provider's timeout"
    assert caught.value.status_code == 504  # type: ignore[attr-defined]
    assert caller.error_type(caught.value.body) == TIMEOUT_TYPES[caller.api]  # type: ignore[attr-defined]
    [log] = caller.gateway.logs(1)
    assert (log.status_code, log.error_type) == (504, "timeout")


def test_a_connection_reset_is_a_502_in_the_callers_format(
    caller: Caller, resetting_server: str
) -> None:
    set_provider(caller, base_url=resetting_server + ("/v1" if caller.api == "openai" else ""))
    with pytest.raises(caller.status_error) as caught:
        caller.create()
    assert caught.value.status_code == 502  # type: ignore[attr-defined]
    assert caller.error_type(caught.value.body) == UPSTREAM_TYPES[caller.api]  # type: ignore[attr-defined]
    assert "could not be reached" in str(caught.value)
    [log] = caller.gateway.logs(1)
    assert log.status_code == 502 and "could not be reached" in log.error_message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_an_upstream_5xx_is_a_502_that_keeps_the_evidence(caller: Caller, status: int) -> None:
    caller.gateway.fake.then(status=status)
    with pytest.raises(caller.status_error) as caught:
        caller.create()
    assert caught.value.status_code == 502  # type: ignore[attr-defined]
    assert caller.error_type(caught.value.body) == UPSTREAM_TYPES[caller.api]  # type: ignore[attr-defined]
    [log] = caller.gateway.logs(1)
    assert log.status_code == 502
    assert log.annotations["upstream_error"]["upstream_status"] == status


def test_a_stream_event_that_is_not_json_is_dropped_and_noted_on_the_log(
    caller: Caller,
) -> None:
    """Relayed as is, `data: {not json` would break the SDK mid-stream: it is left out."""
    caller.gateway.fake.then(malformed_chunk=True)
    assert caller.stream_text("one two three") == "echo: one two three"
    [log] = caller.gateway.logs(1)
    assert log.status_code == 200
    assert log.annotations["malformed_stream_events"] == [
        "event: content_block_delta\ndata: {not json\n\n"
        if caller.api == "anthropic"
        else "data: {not json\n\n"
    ]


@pytest.mark.parametrize(
    "behaviour", [{"omit_done": True}, {"disconnect_after": 2}], ids=["no-end", "cut"]
)
def test_a_truncated_stream_ends_with_a_clean_error(
    caller: Caller, behaviour: dict[str, object]
) -> None:
    caller.gateway.fake.then(**behaviour)
    with pytest.raises(caller.stream_error):
        caller.stream_text("one two three four")
    [log] = caller.gateway.logs(1)
    assert log.status_code == 502 and log.error_type == "upstream"


def test_a_slow_drip_within_the_read_timeout_streams_to_the_end(caller: Caller) -> None:
    set_provider(caller, timeout_seconds=1.0)
    caller.gateway.fake.then(chunk_delay=0.3)
    text = caller.stream_text("one two three four")
    assert text.endswith("one two three four")  # 5 gaps of 0.3 s: longer than the timeout
    [log] = caller.gateway.logs(1)
    assert log.status_code == 200 and log.latency_ms > 1000


def test_a_drip_slower_than_the_read_timeout_ends_with_a_timeout_error(caller: Caller) -> None:
    set_provider(caller, timeout_seconds=0.4)
    caller.gateway.fake.then(chunk_delay=1.5)
    with pytest.raises(caller.stream_error) as caught:
        caller.stream_text("one two three")
    assert "timed out" in str(caught.value)
    [log] = caller.gateway.logs(1)
    assert log.status_code == 504 and log.error_type == "timeout"


def test_a_client_that_leaves_mid_stream_closes_the_upstream_promptly(caller: Caller) -> None:
    fake = caller.gateway.fake
    fake.then(chunk_delay=0.1, reply=" ".join(["word"] * 200))
    with httpx.stream(
        "POST", caller.url, json=caller.body(stream=True), headers=caller.headers
    ) as response:
        lines = response.iter_lines()
        for _ in range(4):
            next(lines)
        left_at = time.monotonic()
    deadline = left_at + 5
    while not fake.streams_closed_by_client and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.streams_closed_by_client, "the upstream never saw the connection close"
    assert fake.streams_closed_by_client[0] - left_at < 1.0
    [log] = caller.gateway.logs(1)
    deadline = time.monotonic() + 5
    while not log.client_disconnected and time.monotonic() < deadline:
        time.sleep(0.05)
        [log] = caller.gateway.logs(1)
    assert log.client_disconnected and log.status_code == 499
