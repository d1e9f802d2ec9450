"""Schemathesis: every operation in /api/openapi.json, fuzzed against the live server.

No generated request may make the proxy fail inside itself: a 500, or an answer
that is not JSON in the caller's API format. Upstream failures (502/504) are
allowed only as proper upstream errors. Bounded for CI (25 examples per
operation); for a longer run see docs/hardening.md.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import Gateway

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


def served_schema() -> dict[str, Any]:
    """The schema the app serves at /api/openapi.json (read through Django's test client)."""
    from django.test import Client

    response = Client(HTTP_HOST="127.0.0.1").get("/api/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


schema = schemathesis.openapi.from_dict(served_schema())


def answers_in_the_callers_format(path: str, response: Any) -> None:
    status = response.status_code
    assert status != 500, f"the proxy failed inside itself: {response.text[:500]}"
    if status >= 400:
        body = response.json()
        if path.startswith("/v1/messages"):
            assert body["type"] == "error" and body["error"]["message"], body
        else:
            assert body["error"]["message"] and body["error"]["type"], body
    if status in (502, 504):
        error_type = body["error"]["type"]
        assert error_type in ("upstream_error", "api_error", "timeout", "timeout_error"), body


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_makes_the_proxy_fail_with_a_key(case: Any, gateway: Gateway) -> None:
    response = case.call(
        base_url=gateway.url, headers={"authorization": f"Bearer {gateway.key}"}, timeout=30
    )
    answers_in_the_callers_format(case.path, response)


@schema.parametrize()
@settings(
    max_examples=max(5, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_past_authentication_without_a_key(case: Any, gateway: Gateway) -> None:
    response = case.call(base_url=gateway.url, timeout=30)
    answers_in_the_callers_format(case.path, response)
    assert response.status_code in (400, 401, 403, 404, 405, 413, 422), response.text[:300]
