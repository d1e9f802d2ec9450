"""Fixtures for the intelligence tests: run the learning jobs over what the proxy logged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Gateway


def learn_now(gateway: Gateway, expected: int) -> Any:
    """Wait for `expected` logs, then run discovery and the rollup (as the jobs do)."""
    from intelligence.services.discovery import learn
    from intelligence.services.stats import rollup

    gateway.logs(expected)
    report = learn()
    rollup()
    return report


def ask(gateway: Gateway, text: str, **kwargs: Any) -> Any:
    """One chat completion through the proxy; returns the raw response (headers and body)."""
    messages = kwargs.pop("messages", None) or [{"role": "user", "content": text}]
    return gateway.openai().chat.completions.with_raw_response.create(
        model=kwargs.pop("model", "gpt-4o-mini"), messages=messages, **kwargs
    )


@pytest.fixture
def api(gateway: Gateway) -> Any:
    import httpx

    with httpx.Client(
        base_url=gateway.url, headers={"authorization": f"Bearer {gateway.key}"}, timeout=10
    ) as client:
        yield client
