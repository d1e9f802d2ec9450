"""Success signals: refusals, truncation, JSON validity, errors."""

from __future__ import annotations

import pytest

from intelligence.services.signals import is_refusal, json_validity, read_signals


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "I am sorry, I cannot assist with this request.",
        "I can’t help with creating malware.",
        "I cannot provide instructions for that.",
        "Unfortunately, I am unable to share personal data.",
        "As an AI language model, I cannot browse the internet.",
        "I won't be able to... I won't help with that.",
        "I must decline this request.",
        "  I'm unable to assist with that request.",
    ],
)
def test_it_recognises_refusals(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here is the haiku you asked for.",
        "The capital of France is Paris.",
        "I can help with that: first, open the file.",
        "Here is the story. Later the robot said: I'm sorry, but I can't stop now.",
        "Sorry for the delay in my previous answer; the result is 42.",
        "",
        "I cannot stress enough how useful unit tests are.",
    ],
)
def test_it_does_not_flag_ordinary_answers(text: str) -> None:
    assert not is_refusal(text)


def completion(text: str, finish: str = "stop", refusal: str | None = None) -> dict[str, object]:
    message = {"role": "assistant", "content": text, "refusal": refusal}
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}


def test_json_validity_is_judged_only_when_json_was_asked_for() -> None:
    assert json_validity({"messages": []}, "not json") is None
    wants_json = {"response_format": {"type": "json_object"}}
    assert json_validity(wants_json, '{"a": 1}') is True
    assert json_validity(wants_json, "Sure: {a: 1}") is False


def test_json_schema_requirements_are_checked() -> None:
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    request = {"response_format": {"type": "json_schema", "json_schema": {"schema": schema}}}
    assert json_validity(request, '{"name": "Eva", "age": 7}') is True
    assert json_validity(request, '{"name": "Eva"}') is False
    assert json_validity(request, '{"name": "Eva", "age": "seven"}') is False
    assert json_validity(request, '{"name": "Eva", "age": true}') is False


def signals(**kwargs: object) -> str:
    defaults: dict[str, object] = {
        "status_code": 200,
        "error_type": "",
        "finish_reason": "stop",
        "request": {},
        "response": completion("Fine."),
    }
    defaults.update(kwargs)
    return read_signals(**defaults).outcome  # type: ignore[arg-type]


def test_outcomes_follow_the_signals() -> None:
    assert signals() == "success"
    assert signals(status_code=502, error_type="upstream") == "error"
    assert signals(finish_reason="length") == "truncated"
    assert signals(response=completion("I'm sorry, but I can't do that.")) == "refused"
    assert signals(response=completion("", refusal="No.")) == "refused"
    assert signals(response=completion("x", finish="content_filter")) == "refused"
    assert (
        signals(request={"response_format": {"type": "json_object"}}, response=completion("nope"))
        == "invalid_json"
    )
    assert signals(response=None, streamed_text="I cannot help with that.") == "refused"
    anthropic = {"content": [{"type": "text", "text": "I can't help with that."}]}
    assert signals(response=anthropic) == "refused"
