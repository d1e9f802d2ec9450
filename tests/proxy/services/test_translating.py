"""The forwarder translates bodies when the caller's API is not the upstream's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from django.test import override_settings

from tests.conftest import Gateway

MESSAGES: list = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "translate me"},
]


@pytest.fixture
def claude(gateway: Gateway) -> Iterator[Gateway]:
    from proxy.runtime import get_runtime

    gateway.provider.kind = "anthropic"
    gateway.provider.base_url = gateway.fake.anthropic_base_url
    gateway.provider.save()
    get_runtime().invalidate_config()
    yield gateway


def test_an_openai_request_reaches_anthropic_in_anthropics_shape(claude: Gateway) -> None:
    claude.openai().chat.completions.create(model="m", messages=MESSAGES, temperature=0.3)
    sent = claude.fake.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["json"] == {
        "model": "m",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "translate me"}],
        "max_tokens": 4096,
        "temperature": 0.3,
    }
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-api-key"] == "sk-fake-upstream-secret-0000"
    assert headers["anthropic-version"] == "2023-06-01"


def test_the_default_max_tokens_is_a_setting(claude: Gateway) -> None:
    with override_settings(ANTHROPIC_DEFAULT_MAX_TOKENS=77):
        claude.openai().chat.completions.create(model="m", messages=MESSAGES)
    assert claude.fake.requests[-1]["json"]["max_tokens"] == 77


def test_the_log_keeps_the_callers_request_and_the_answer_in_the_callers_format(
    claude: Gateway,
) -> None:
    claude.openai().chat.completions.create(model="m", messages=MESSAGES, seed=7)
    [log] = claude.logs(1)
    assert log.annotations["translated"] == "openai->anthropic"
    assert log.annotations["translation_dropped"] == ["seed"]
    assert "seed" not in claude.fake.requests[-1]["json"]
    assert log.body.request["messages"] == MESSAGES
    assert log.body.response["object"] == "chat.completion"
    assert log.body.response["choices"][0]["message"]["content"] == "echo: translate me"


def test_a_translated_stream_is_logged_as_the_caller_saw_it(claude: Gateway) -> None:
    list(claude.openai().chat.completions.create(model="m", messages=MESSAGES, stream=True))
    [log] = claude.logs(1)
    assert log.body.response_text == "echo: translate me"
    assert log.body.response["object"] == "chat.completion"
    assert log.finish_reason == "stop"


def test_a_request_that_cannot_be_translated_gets_400_and_never_leaves(claude: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        claude.openai().chat.completions.create(model="m", messages=MESSAGES, n=2)
    assert caught.value.body["code"] == "unsupported_translation"  # type: ignore[index]
    assert "`n`" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        claude.openai().embeddings.create(model="m", input="x")
    assert caught.value.body["code"] == "unsupported_translation"  # type: ignore[index]
    assert claude.fake.requests == []


def test_an_openai_image_and_tool_result_reach_anthropic_as_blocks(claude: Gateway) -> None:
    messages: list = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is it"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
    ]
    claude.openai().chat.completions.create(model="m", messages=messages, stop=["END"])
    sent = claude.fake.requests[-1]["json"]
    assert sent["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
    }
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}
    ]
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "a cat"}
    ]
    assert sent["stop_sequences"] == ["END"]


def test_an_anthropic_stream_to_an_anthropic_caller_is_relayed_byte_for_byte(
    claude: Gateway,
) -> None:
    body = {"model": "m", "max_tokens": 9, "stream": True, "messages": MESSAGES[1:]}
    with httpx.stream(
        "POST", claude.url + "/v1/messages", json=body, headers={"x-api-key": claude.key}
    ) as response:
        raw = b"".join(response.iter_raw())
    # The fake writes `json.dumps` with spaces; the translators write compact JSON.
    assert b'data: {"type": "message_start"' in raw
    assert raw.endswith(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')
