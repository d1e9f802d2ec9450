"""A provider's API key never leaves the proxy except toward its provider: not in answers,
headers, log records, bodies, log output, exception messages or the admin."""

from __future__ import annotations

import logging
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import Gateway

SECRET = "sk-fake-upstream-secret-0000"
MESSAGES = [{"role": "user", "content": "hi"}]


def failures(gateway: Gateway) -> list[tuple[str, Any]]:
    """Each failure, and what the client saw of it (exception text, or the raw answer)."""
    from proxy.runtime import get_runtime

    seen: list[tuple[str, Any]] = []
    client = gateway.openai()
    for name, behaviour in [
        ("5xx", {"status": 500}),
        ("4xx", {"status": 401, "error_body": {"error": {"message": "bad key " + SECRET[:6]}}}),
        ("stream cut", {"disconnect_after": 1}),
    ]:
        gateway.fake.then(**behaviour)
        try:
            if name == "stream cut":
                list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
            else:
                client.chat.completions.create(model="m", messages=MESSAGES)
        except openai.APIError as exc:
            seen.append((name, f"{exc!r} {exc.body!r}"))
    gateway.provider.timeout_seconds = 0.2
    gateway.provider.save()
    get_runtime().invalidate_config()
    gateway.fake.then(delay=1)
    try:
        client.chat.completions.create(model="m", messages=MESSAGES)
    except openai.APIError as exc:
        seen.append(("timeout", f"{exc!r} {exc.body!r}"))
    gateway.provider.base_url = "http://127.0.0.1:9/v1"
    gateway.provider.save()
    get_runtime().invalidate_config()
    raw = httpx.post(
        gateway.v1 + "/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"authorization": f"Bearer {gateway.key}"},
    )
    seen.append(("unreachable", f"{raw.headers!r} {raw.text}"))
    try:
        anthropic.Anthropic(
            base_url=gateway.url, api_key=gateway.key, max_retries=0
        ).messages.create(model="m", max_tokens=5, messages=MESSAGES)
    except anthropic.APIError as exc:
        seen.append(("anthropic caller", f"{exc!r} {exc.body!r}"))
    return seen


def test_no_failure_shows_the_provider_key(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    from django.core import serializers

    from proxy.models import RequestBody, RequestLog

    caplog.set_level(logging.DEBUG)
    seen = failures(gateway)

    assert len(seen) == 6
    for name, text in seen:
        assert SECRET not in text, name
    logs = gateway.logs(6)
    assert len(logs) >= 6
    assert all(log.status_code >= 400 for log in logs)
    dumped = serializers.serialize("json", [*RequestLog.objects.all(), *RequestBody.objects.all()])
    assert SECRET not in dumped
    assert SECRET not in caplog.text
    # ... and the upstream did get it, so the test would have seen it had it leaked:
    assert gateway.fake.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_the_admin_shows_only_a_hint_of_the_provider_key(
    gateway: Gateway, admin_client: Any
) -> None:
    pages = [
        admin_client.get("/admin/proxy/provider/"),
        admin_client.get(f"/admin/proxy/provider/{gateway.provider.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
    assert "…0000" in pages[0].content.decode()


def test_the_provider_key_is_encrypted_at_rest(gateway: Gateway) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM proxy_provider")
        [(stored,)] = cursor.fetchall()
    assert stored and SECRET not in stored
