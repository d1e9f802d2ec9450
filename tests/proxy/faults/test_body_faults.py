"""Bodies the proxy cannot take: a 400 or 413 in the caller's format, fast, and a log record.

Bytes that no SDK would send (invalid UTF-8, 100,000 nested arrays) go out with
httpx; the SDKs are used where they can carry the fault.
"""

from __future__ import annotations

import time

import httpx
import pytest
from django.test import override_settings

from tests.proxy.faults.conftest import Caller

INVALID = {"openai": "invalid_request_error", "anthropic": "invalid_request_error"}


def post_raw(caller: Caller, content: bytes) -> httpx.Response:
    return httpx.post(caller.url, content=content, headers=caller.headers, timeout=10)


def error_of(caller: Caller, response: httpx.Response) -> dict[str, object]:
    body = response.json()
    if caller.api == "anthropic":
        assert body["type"] == "error"
    return dict(body["error"])


def only_log(caller: Caller) -> object:
    [log] = caller.gateway.logs(1)
    return log


def test_an_oversized_body_is_a_413_through_the_sdk(caller: Caller) -> None:
    with (
        override_settings(MAX_REQUEST_BYTES=2000, DATA_UPLOAD_MAX_MEMORY_SIZE=2000),
        pytest.raises(caller.status_error) as caught,
    ):
        caller.create(text="x" * 10_000)
    assert caught.value.status_code == 413  # type: ignore[attr-defined]
    log = only_log(caller)
    assert log.status_code == 413  # type: ignore[attr-defined]
    assert caller.gateway.fake.requests == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"model": "m", "messages": [', "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b'{"model": "m", "max_tokens": 5, "messages": "hi"}', "messages"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "caf\xe9"}]}', "UTF-8"),
        (b"\xff\xfe\x00{", "UTF-8"),
    ],
    ids=["truncated", "empty", "not-an-object", "wrong-shape", "latin-1", "garbage"],
)
def test_a_malformed_body_is_a_400_that_says_what_is_wrong(
    caller: Caller, content: bytes, says: str
) -> None:
    response = post_raw(caller, content)
    assert response.status_code == 400
    error = error_of(caller, response)
    assert error["type"] == INVALID[caller.api]
    assert says in str(error["message"])
    log = only_log(caller)
    assert log.status_code == 400 and log.error_type == "invalid_request"  # type: ignore[attr-defined]
    assert caller.gateway.fake.requests == []


def test_deeply_nested_json_is_a_quick_400_and_the_worker_lives_on(caller: Caller) -> None:
    depth = 100_000
    started = time.monotonic()
    response = post_raw(caller, b"[" * depth + b"]" * depth)
    assert time.monotonic() - started < 2.0
    assert response.status_code == 400
    assert "not valid JSON" in str(error_of(caller, response)["message"]) or "nested" in str(
        error_of(caller, response)["message"]
    )
    assert only_log(caller).status_code == 400  # type: ignore[attr-defined]
    assert caller.create().id  # the same worker answers the next request


@pytest.mark.parametrize("depth", [100_000, 900])
def test_deep_nesting_inside_a_valid_request_is_answered_and_logged(
    caller: Caller, depth: int
) -> None:
    """Deep but parseable (900) goes through and is logged; too deep (100,000) is a 400."""
    nested = "[" * depth + "]" * depth
    content = caller.body()
    text = httpx.Request("POST", "/", json=content).content.decode()
    raw = (text[:-1] + f', "metadata_blob": {nested}}}').encode()
    response = post_raw(caller, raw)
    assert response.status_code in (200, 400)
    if depth > 5000:
        assert response.status_code == 400
    log = only_log(caller)
    assert log.status_code == response.status_code  # type: ignore[attr-defined]
