"""OpenAI chat → Anthropic messages: pure translation of requests, responses and streams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.providers.sse import EventSplitter, event_json, event_name
from proxy.translation import TranslationError, anthropic_to_openai, openai_to_anthropic

PNG = "iVBORw0KGgo="


def test_system_and_developer_messages_become_the_system_prompt() -> None:
    body = openai_to_anthropic.request(
        {
            "model": "claude",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                {"role": "user", "content": "hi"},
            ],
        }
    )
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use French."},
    ]
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_a_single_system_message_stays_a_string_and_max_tokens_gets_the_default() -> None:
    body = openai_to_anthropic.request(
        {
            "model": "c",
            "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}],
        },
        default_max_tokens=1234,
    )
    assert body["system"] == "S" and body["max_tokens"] == 1234


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    body = openai_to_anthropic.request(
        {
            "model": "c",
            "messages": [{"role": "user", "content": "u"}],
            "max_tokens": 5,
            "max_completion_tokens": 7,
        }
    )
    assert body["max_tokens"] == 7


def test_images_by_url_and_base64_become_image_blocks() -> None:
    body = openai_to_anthropic.request(
        {
            "model": "c",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What are these?"},
                        {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                }
            ],
        }
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What are these?"},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/cat.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]


def test_a_data_url_that_is_not_base64_is_refused() -> None:
    with pytest.raises(TranslationError, match="base64"):
        openai_to_anthropic.request(
            {
                "model": "c",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:text/plain,hi"}}
                        ],
                    }
                ],
            }
        )


def test_tool_calls_and_tool_results_become_tool_use_and_tool_result_blocks() -> None:
    body = openai_to_anthropic.request(
        {
            "model": "c",
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"city":"Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"city":"Oslo"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {
                    "role": "tool",
                    "tool_call_id": "call_2",
                    "content": [{"type": "text", "text": "snow"}],
                },
                {"role": "user", "content": "thanks"},
            ],
        }
    )
    assert body["messages"] == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "w", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "w", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "snow"}],
                },
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


def test_tools_tool_choice_and_parallel_calls_are_translated() -> None:
    tool = {
        "type": "function",
        "function": {"name": "w", "description": "Weather", "parameters": {"type": "object"}},
    }
    base = {"model": "c", "messages": [{"role": "user", "content": "u"}], "tools": [tool]}
    body = openai_to_anthropic.request(base)
    assert body["tools"] == [
        {"name": "w", "description": "Weather", "input_schema": {"type": "object"}}
    ]
    assert "tool_choice" not in body
    choices = {
        "auto": {"type": "auto"},
        "none": {"type": "none"},
        "required": {"type": "any"},
    }
    for given, expected in choices.items():
        assert (
            openai_to_anthropic.request({**base, "tool_choice": given})["tool_choice"] == expected
        )
    named = {"type": "function", "function": {"name": "w"}}
    assert openai_to_anthropic.request({**base, "tool_choice": named})["tool_choice"] == {
        "type": "tool",
        "name": "w",
    }
    serial = openai_to_anthropic.request({**base, "parallel_tool_calls": False})
    assert serial["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_sampling_stop_sequences_stream_and_user_are_translated() -> None:
    body = openai_to_anthropic.request(
        {
            "model": "c",
            "messages": [{"role": "user", "content": "u"}],
            "temperature": 1.7,
            "top_p": 0.9,
            "stop": "END",
            "stream": True,
            "stream_options": {"include_usage": True},
            "user": "alice",
            "seed": 3,
        }
    )
    assert body["temperature"] == 1.0  # clamped to Anthropic's range
    assert body["top_p"] == 0.9
    assert body["stop_sequences"] == ["END"]
    assert body["stream"] is True
    assert body["metadata"] == {"user_id": "alice"}
    assert "seed" not in body and "stream_options" not in body
    listed = openai_to_anthropic.request(
        {"model": "c", "messages": [{"role": "user", "content": "u"}], "stop": ["a", "b"]}
    )
    assert listed["stop_sequences"] == ["a", "b"]


@pytest.mark.parametrize(
    "extra",
    [{"n": 2}, {"response_format": {"type": "json_object"}}],
)
def test_what_anthropic_cannot_do_is_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(TranslationError):
        openai_to_anthropic.request(
            {"model": "c", "messages": [{"role": "user", "content": "u"}], **extra}
        )


def test_invalid_tool_arguments_are_refused_not_dropped() -> None:
    with pytest.raises(TranslationError, match="not valid JSON"):
        openai_to_anthropic.request(
            {
                "model": "c",
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "x", "function": {"name": "f", "arguments": "{oops"}}
                        ],
                    }
                ],
            }
        )


def test_a_completion_becomes_a_message_with_usage_split_by_cache() -> None:
    message = openai_to_anthropic.response(
        {
            "id": "chatcmpl-1",
            "model": "gpt",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Let me look.",
                        "tool_calls": [
                            {
                                "id": "call_9",
                                "type": "function",
                                "function": {"name": "f", "arguments": '{"a":1}'},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10},
            },
        }
    )
    assert message["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_9", "name": "f", "input": {"a": 1}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 30,
        "output_tokens": 7,
        "cache_read_input_tokens": 60,
        "cache_creation_input_tokens": 10,
    }


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish: str, stop: str) -> None:
    body = {"choices": [{"message": {"content": "x"}, "finish_reason": finish}]}
    assert openai_to_anthropic.response(body)["stop_reason"] == stop


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    payload = {
        "id": "c1",
        "model": "gpt",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def translate(events: list[bytes]) -> list[tuple[str, Any]]:
    translator = openai_to_anthropic.StreamTranslator()
    out = []
    for event in events:
        for produced in translator.feed(event):
            out.append((event_name(produced), event_json(produced)))
    return out


def test_a_text_stream_becomes_anthropics_event_sequence_with_usage_at_the_end() -> None:
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    out = translate(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            b"data: " + json.dumps({"id": "c1", "choices": [], "usage": usage}).encode() + b"\n\n",
            b"data: [DONE]\n\n",
        ]
    )
    assert [name for name, _ in out] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert out[0][1]["message"]["id"] == "c1"
    assert [p["delta"]["text"] for n, p in out if n == "content_block_delta"] == ["Hel", "lo"]
    delta = out[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"] == {
        "input_tokens": 8,
        "output_tokens": 2,
        "cache_read_input_tokens": 4,
        "cache_creation_input_tokens": 0,
    }


def test_tool_call_argument_deltas_become_input_json_deltas_one_block_per_call() -> None:
    out = translate(
        [
            chunk({"role": "assistant", "content": "Sure."}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"x"'},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "g", "arguments": "{}"},
                        }
                    ]
                }
            ),
            chunk({}, "tool_calls"),
            b"data: [DONE]\n\n",
        ]
    )
    starts = [p for n, p in out if n == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["text", "tool_use", "tool_use"]
    assert starts[1]["content_block"] == {
        "type": "tool_use",
        "id": "call_a",
        "name": "f",
        "input": {},
    }
    json_deltas = [
        (p["index"], p["delta"]["partial_json"])
        for n, p in out
        if n == "content_block_delta" and p["delta"]["type"] == "input_json_delta"
    ]
    assert json_deltas == [(1, '{"x"'), (1, ":1}"), (2, "{}")]
    assert [p["index"] for n, p in out if n == "content_block_stop"] == [0, 1, 2]
    assert out[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_a_translated_stream_round_trips_back_to_the_same_completion() -> None:
    """OpenAI chunks → Anthropic events → OpenAI chunks keeps text, tool calls and finish."""
    there = translate(
        [
            chunk({"role": "assistant", "content": "Hi"}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "function": {"name": "f", "arguments": '{"q":"z"}'},
                        }
                    ]
                }
            ),
            chunk({}, "tool_calls"),
            b"data: [DONE]\n\n",
        ]
    )
    back = anthropic_to_openai.StreamTranslator(client_wants_usage=True)
    splitter = EventSplitter()
    chunks = []
    for name, payload in there:
        raw = f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()
        for event in splitter.feed(raw):
            chunks += back.feed(event)
    from proxy.providers.openai_compat import assemble_stream

    rebuilt = assemble_stream(chunks)
    message = rebuilt["choices"][0]["message"]
    assert message["content"] == "Hi"
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"q":"z"}'}
    assert rebuilt["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1] == b"data: [DONE]\n\n"


def test_an_error_chunk_becomes_an_anthropic_error_event() -> None:
    out = translate([b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n'])
    assert out == [("error", {"type": "error", "error": {"type": "api_error", "message": "boom"}})]


def test_invalid_tool_arguments_in_an_answer_are_kept_unparsed() -> None:
    call = {"id": "c", "function": {"name": "f", "arguments": '{"cut'}}
    message = openai_to_anthropic.response(
        {"choices": [{"message": {"tool_calls": [call]}, "finish_reason": "tool_calls"}]}
    )
    assert message["content"] == [
        {"type": "tool_use", "id": "c", "name": "f", "input": {"_unparsed_arguments": '{"cut'}}
    ]
