"""POST /v1/messages and /v1/messages/count_tokens: auth, intake, headers, pass-through."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import Gateway

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def claude(gateway: Gateway) -> Iterator[Gateway]:
    """The gateway with its default provider speaking Anthropic's API."""
    from proxy.runtime import get_runtime

    gateway.provider.kind = "anthropic"
    gateway.provider.base_url = gateway.fake.anthropic_base_url
    gateway.provider.save()
    get_runtime().invalidate_config()
    yield gateway


def post(gateway: Gateway, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, headers=headers)


def test_it_accepts_the_key_as_x_api_key_or_bearer(claude: Gateway) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES}
    by_header = post(claude, "/v1/messages", body, **{"x-api-key": claude.key})
    by_bearer = post(claude, "/v1/messages", body, authorization=f"Bearer {claude.key}")
    assert by_header.status_code == by_bearer.status_code == 200
    assert by_header.json()["content"][0]["text"] == "echo: hello there"


def test_a_missing_key_gets_401_in_anthropics_error_format(claude: Gateway) -> None:
    response = post(claude, "/v1/messages", {"model": "m", "max_tokens": 10, "messages": MESSAGES})
    assert response.status_code == 401
    assert response.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Missing API key."},
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "messages": MESSAGES}, "max_tokens"),
        ({"model": "m", "max_tokens": 0, "messages": MESSAGES}, "max_tokens"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, "role"),
        ({"model": "m", "max_tokens": 5, "messages": [{"role": "user"}]}, "content"),
        ({"max_tokens": 5, "messages": MESSAGES}, "model"),
    ],
)
def test_a_malformed_messages_body_gets_400_saying_what_is_wrong(
    claude: Gateway, body: dict[str, Any], param: str
) -> None:
    response = post(claude, "/v1/messages", body, **{"x-api-key": claude.key})
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert param in error["error"]["message"]
    assert claude.fake.requests == []


def test_anthropic_headers_go_to_the_upstream_unchanged_with_the_providers_key(
    claude: Gateway,
) -> None:
    client = anthropic.Anthropic(
        base_url=claude.url,
        api_key=claude.key,
        max_retries=0,
        default_headers={"anthropic-beta": "prompt-caching-2024-07-31,tools-2024-05-16"},
    )
    client.messages.create(model="m", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
    headers = {k.lower(): v for k, v in claude.fake.requests[-1]["headers"].items()}
    assert headers["anthropic-beta"] == "prompt-caching-2024-07-31,tools-2024-05-16"
    assert headers["anthropic-version"]  # the SDK's own, passed on
    assert headers["x-api-key"] == "sk-fake-upstream-secret-0000"
    assert "authorization" not in headers


def test_the_anthropic_version_is_the_clients_or_the_default(claude: Gateway) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES}
    post(
        claude, "/v1/messages", body, **{"x-api-key": claude.key, "anthropic-version": "2099-01-01"}
    )
    post(claude, "/v1/messages", body, **{"x-api-key": claude.key})
    chosen, default = (
        {k.lower(): v for k, v in r["headers"].items()} for r in claude.fake.requests
    )
    assert chosen["anthropic-version"] == "2099-01-01"
    assert default["anthropic-version"] == "2023-06-01"


def test_anthropic_headers_do_not_reach_an_openai_upstream(gateway: Gateway) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES}
    response = post(
        gateway, "/v1/messages", body, **{"x-api-key": gateway.key, "anthropic-beta": "x"}
    )
    assert response.status_code == 200
    headers = {k.lower() for k in gateway.fake.requests[-1]["headers"]}
    assert "anthropic-beta" not in headers and "anthropic-version" not in headers


def test_a_same_format_answer_is_relayed_byte_for_byte(claude: Gateway) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES}
    response = post(claude, "/v1/messages", body, **{"x-api-key": claude.key})
    # aiohttp's json_response writes ", " and ": "; a re-serialised body would be compact.
    assert '"type": "message"' in response.text
    [log] = claude.logs(1)
    assert log.finish_reason == "end_turn" and log.api_format == "anthropic"
    assert "translated" not in log.annotations


def test_the_session_comes_from_metadata_user_id(claude: Gateway) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES, "metadata": {"user_id": "u-42"}}
    post(claude, "/v1/messages", body, **{"x-api-key": claude.key})
    [log] = claude.logs(1)
    assert log.session_id == "u-42"


def test_count_tokens_is_forwarded_to_an_anthropic_upstream(claude: Gateway) -> None:
    client = anthropic.Anthropic(base_url=claude.url, api_key=claude.key, max_retries=0)
    counted = client.messages.count_tokens(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert counted.input_tokens > 0
    assert claude.fake.requests[-1]["path"] == "/v1/messages/count_tokens"
    [log] = claude.logs(1)
    assert log.endpoint == "count_tokens" and log.status_code == 200
    assert log.prompt_tokens is None  # a count is not a billed request


def test_count_tokens_on_an_openai_upstream_says_it_cannot_be_translated(
    gateway: Gateway,
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.count_tokens(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "count_tokens" in caught.value.message
    assert gateway.fake.requests == []


CLAUDE_CODE_BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 32,
    "system": [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
    ],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "list files"}]}],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "metadata": {"user_id": "user_abc_session_1"},
    "stream": True,
}


def test_a_claude_code_style_request_passes_to_anthropic_untouched(claude: Gateway) -> None:
    with httpx.stream(
        "POST",
        claude.url + "/v1/messages?beta=true",
        json=CLAUDE_CODE_BODY,
        headers={"x-api-key": claude.key, "anthropic-beta": "interleaved-thinking-2025-05-14"},
    ) as response:
        assert response.status_code == 200
        list(response.iter_raw())
    assert claude.fake.requests[-1]["json"] == CLAUDE_CODE_BODY


def test_a_claude_code_style_request_reaches_an_openai_model(gateway: Gateway) -> None:
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json=CLAUDE_CODE_BODY,
        headers={"x-api-key": gateway.key},
    ) as response:
        text = "".join(response.iter_text())
    assert '"text":" files"' in text and text.rstrip().endswith('{"type":"message_stop"}')
    sent = gateway.fake.requests[-1]["json"]
    assert sent["messages"][0] == {"role": "system", "content": "You are Claude Code."}
    assert sent["user"] == "user_abc_session_1" and "thinking" not in sent
    [log] = gateway.logs(1)
    assert log.annotations["translation_dropped"] == ["thinking"]
    assert log.session_id == "user_abc_session_1"
