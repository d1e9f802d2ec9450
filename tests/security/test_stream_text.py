"""The stream text filter mechanism (proxy.stream_text) with security's filters, chunk by chunk."""

from __future__ import annotations

import json
from types import SimpleNamespace

from proxy.providers.sse import encode_event, event_json
from proxy.stream_text import AnthropicText, OpenAIText, filter_body
from security.engine import default_policy
from security.redaction import Pseudonyms, Restorer
from security.services.output import OutputScanner

KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"


def fake_call():
    return SimpleNamespace(annotations={}, request_id="r1", namespace_id=None, key=None)


def openai_chunks(pieces):
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    for piece in pieces:
        yield encode_event(
            {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        )
    yield encode_event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    yield b"data: [DONE]\n\n"


def openai_text(events):
    text = ""
    for event in events:
        payload = event_json(event)
        if payload:
            text += "".join(c["delta"].get("content") or "" for c in payload["choices"])
    return text


def secret_scanner(call):
    return lambda: OutputScanner(call, [default_policy()])


def test_a_secret_split_across_chunks_is_caught_by_the_hold_back_window():
    call = fake_call()
    adapter = OpenAIText([secret_scanner(call)])
    pieces = ["Use ", KEY[:6], KEY[6:15], KEY[15:], " to log in."]
    out = [e for event in openai_chunks(pieces) for e in adapter.rewrite(event)]
    assert openai_text(out) == "Use [REDACTED:openai_key] to log in."
    assert KEY[:6] not in b"".join(out).decode()
    assert call.annotations["security"][0]["start"] == 4


def test_a_placeholder_split_across_chunks_is_restored():
    pseudonyms = Pseudonyms()
    placeholder = pseudonyms.placeholder("email", "a@b.io")
    restorer = Restorer(pseudonyms)
    assert restorer.feed("Mail " + placeholder[:4]) == "Mail "
    assert restorer.feed(placeholder[4:] + " now") == "a@b.io now"
    assert restorer.flush() == ""


def test_text_that_only_looks_like_a_placeholder_start_is_released_at_the_end():
    restorer = Restorer(Pseudonyms())
    assert restorer.feed("a < b") == "a "
    assert restorer.flush() == "< b"


def test_events_without_text_pass_through_byte_for_byte():
    adapter = OpenAIText([lambda: Restorer(Pseudonyms())])
    event = b'data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
    assert adapter.rewrite(event) == [event]


def test_the_anthropic_adapter_filters_text_deltas_and_flushes_before_the_block_ends():
    call = fake_call()
    adapter = AnthropicText([secret_scanner(call)])
    events = [encode_event({"type": "message_start", "message": {}}, "message_start")]
    for piece in ["key: ", KEY[:10], KEY[10:], " bye"]:
        events.append(
            encode_event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
                "content_block_delta",
            )
        )
    events.append(encode_event({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    out = [e for event in events for e in adapter.rewrite(event)]
    text = "".join(
        (event_json(e) or {}).get("delta", {}).get("text", "")
        for e in out
        if b"content_block_delta" in e
    )
    assert text == "key: [REDACTED:openai_key] bye"
    assert out[0] == events[0] and b"content_block_stop" in out[-1]


def test_whole_responses_are_filtered_in_both_formats():
    call = fake_call()
    openai_body = {"choices": [{"message": {"content": f"k={KEY}"}}]}
    assert (
        json.loads(filter_body("openai", openai_body, [secret_scanner(call)]))["choices"][0][
            "message"
        ]["content"]
        == "k=[REDACTED:openai_key]"
    )
    anthropic_body = {"content": [{"type": "text", "text": f"k {KEY}"}]}
    assert (
        json.loads(filter_body("anthropic", anthropic_body, [secret_scanner(call)]))["content"][0][
            "text"
        ]
        == "k [REDACTED:openai_key]"
    )
