"""ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL create a working Anthropic provider."""

from __future__ import annotations

from typing import Any

import anthropic
from django.test import override_settings

from proxy.models import Provider
from proxy.services.providers import providers_sync_from_env
from tests.conftest import Gateway


def test_the_environment_creates_an_anthropic_provider_that_serves(gateway: Gateway) -> None:
    from proxy.runtime import get_runtime

    with override_settings(
        ANTHROPIC_API_KEY="sk-ant-from-env", ANTHROPIC_BASE_URL=gateway.fake.anthropic_base_url
    ):
        synced = providers_sync_from_env()
    provider = Provider.objects.get(name="anthropic")
    assert provider in synced and provider.kind == "anthropic"
    get_runtime().invalidate_config()
    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    messages: Any = [{"role": "user", "content": "from env"}]
    message = client.messages.create(model="anthropic/claude-x", max_tokens=9, messages=messages)
    assert message.content[0].text == "echo: from env"  # type: ignore[union-attr]
    sent = gateway.fake.requests[-1]
    assert sent["path"] == "/v1/messages" and sent["json"]["model"] == "claude-x"
    assert {k.lower(): v for k, v in sent["headers"].items()}["x-api-key"] == "sk-ant-from-env"
