"""Output policies: responses scanned, streams included, with a hold-back window."""

from __future__ import annotations

import openai
import pytest

from security.models import SecurityEvent

KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"


def ask(client, text: str = "hi", **kwargs):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kwargs
    )


def test_a_secret_in_a_response_is_redacted(gateway, policy):
    policy("out", direction="output", rules=[{"detector": "secrets", "action": "redact"}])
    gateway.fake.then(reply=f"Your key is {KEY} ok")
    assert (
        ask(gateway.openai()).choices[0].message.content == "Your key is [REDACTED:openai_key] ok"
    )


def test_a_secret_in_a_stream_is_redacted_before_it_reaches_the_client(gateway, policy):
    policy("out", direction="output", rules=[{"detector": "secrets", "action": "redact"}])
    gateway.fake.then(reply=f"Your key is {KEY} and more words follow here")
    stream = ask(gateway.openai(), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Your key is [REDACTED:openai_key] and more words follow here"
    (log,) = gateway.logs(1)
    event = SecurityEvent.objects.get(request_log=log)
    assert (event.direction, event.label, event.start, event.end) == (
        "output",
        "openai_key",
        12,
        12 + len(KEY),
    )


def test_a_blocked_response_is_an_error_in_the_callers_format(gateway, policy):
    policy("out", direction="output", rules=[{"detector": "secrets", "action": "block"}])
    gateway.fake.then(reply=f"Here: {KEY}")
    with pytest.raises(openai.BadRequestError) as caught:
        ask(gateway.openai())
    assert caught.value.body["type"] == "policy_violation"
    assert KEY not in str(caught.value.body)


def test_a_blocked_stream_ends_with_an_error_event_and_no_secret(gateway, policy):
    policy("out", direction="output", rules=[{"detector": "secrets", "action": "block"}])
    gateway.fake.then(reply=f"Here it is: {KEY} enjoy")
    received = []
    with pytest.raises(openai.APIError, match="blocked by security policy 'out'"):
        for chunk in ask(gateway.openai(), stream=True):
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert KEY not in "".join(received)
    (log,) = gateway.logs(1)
    assert log.error_type == "policy_violation"


def test_ordinary_responses_stream_unchanged(gateway, policy):
    policy("out", direction="output", rules=[{"detector": "secrets", "action": "redact"}])
    stream = ask(gateway.openai(), "one two three four", stream=True)
    assert (
        "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        == "echo: one two three four"
    )


def test_the_stored_response_of_a_redacted_stream_keeps_no_secret(gateway, policy):
    policy("out", direction="output", rules=[{"detector": "secrets", "action": "redact"}])
    gateway.fake.then(reply=f"Your key is {KEY} and more words follow here")
    list(ask(gateway.openai(), stream=True))
    (log,) = gateway.logs(1)
    assert KEY not in str(log.body.response) + log.body.response_text
    assert "[REDACTED:openai_key]" in log.body.response_text
