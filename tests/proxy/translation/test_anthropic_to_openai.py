"""Anthropic messages → OpenAI chat: pure translation of requests, responses and streams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.providers import anthropic as anthropic_adapter
from proxy.providers.sse import event_json
from proxy.translation import TranslationError, anthropic_to_openai, openai_to_anthropic

PNG = "iVBORw0KGgo="


def test_the_system_prompt_becomes_the_first_message() -> None:
    body = anthropic_to_openai.request(
        {
            "model": "gpt",
            "max_tokens": 50,
            "system": [
                {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Be kind."},
            ],
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\n\nBe kind."},
        {"role": "user", "content": "hi"},
    ]
    assert body["max_tokens"] == 50


def test_images_become_image_url_parts_and_text_blocks_text_parts() -> None:
    body = anthropic_to_openai.request(
        {
            "model": "gpt",
            "max_tokens": 5,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {
                            "type": "image",
                            "source": {"type": "url", "url": "https://x.test/dog.jpg"},
                        },
                    ],
                }
            ],
        }
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/dog.jpg"}},
    ]


def test_tool_use_and_tool_result_blocks_become_tool_calls_and_tool_messages() -> None:
    body = anthropic_to_openai.request(
        {
            "model": "gpt",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "w",
                            "input": {"city": "Paris"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": [{"type": "text", "text": "sunny"}],
                        },
                        {"type": "text", "text": "and tomorrow?"},
                    ],
                },
            ],
        }
    )
    assert body["messages"] == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        {"role": "user", "content": "and tomorrow?"},
    ]


def test_tools_tool_choice_stop_sequences_and_metadata_are_translated() -> None:
    base = {
        "model": "gpt",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "u"}],
        "tools": [{"name": "w", "description": "Weather", "input_schema": {"type": "object"}}],
        "stop_sequences": ["END"],
        "temperature": 0.2,
        "top_p": 0.5,
        "top_k": 40,
        "metadata": {"user_id": "alice"},
    }
    body = anthropic_to_openai.request(base)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "w", "parameters": {"type": "object"}, "description": "Weather"},
        }
    ]
    assert body["stop"] == ["END"]
    assert (body["temperature"], body["top_p"], body["user"]) == (0.2, 0.5, "alice")
    assert "top_k" not in body
    choices = [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "w"}, {"type": "function", "function": {"name": "w"}}),
    ]
    for given, expected in choices:
        assert (
            anthropic_to_openai.request({**base, "tool_choice": given})["tool_choice"] == expected
        )
    serial = anthropic_to_openai.request(
        {**base, "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}
    )
    assert serial["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    "message",
    [
        {
            "role": "user",
            "content": [{"type": "document", "source": {"type": "text", "data": "x"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [{"type": "image", "source": {"type": "url", "url": "u"}}],
                }
            ],
        },
    ],
    ids=["document", "image-in-tool-result"],
)
def test_what_openai_chat_cannot_carry_is_refused(message: dict[str, Any]) -> None:
    with pytest.raises(TranslationError):
        anthropic_to_openai.request({"model": "gpt", "max_tokens": 5, "messages": [message]})


def test_server_tools_are_refused() -> None:
    with pytest.raises(TranslationError, match="Server tools"):
        anthropic_to_openai.request(
            {
                "model": "g",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "u"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            }
        )


def test_a_request_round_trips_through_both_translations() -> None:
    original = {
        "model": "m",
        "max_tokens": 99,
        "system": "Sys",
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1, 2]}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
            },
        ],
        "stop_sequences": ["X"],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"},
    }
    again = openai_to_anthropic.request(anthropic_to_openai.request(original))
    assert again["system"] == "Sys"
    assert again["max_tokens"] == 99
    assert again["stop_sequences"] == ["X"]
    assert again["tool_choice"] == {"type": "any"}
    assert again["messages"] == [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1, 2]}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
        },
    ]


def test_a_message_becomes_a_completion_with_cache_tokens_in_the_prompt() -> None:
    completion = anthropic_to_openai.response(
        {
            "id": "msg_1",
            "model": "claude",
            "content": [
                {"type": "text", "text": "Sure. "},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"q": "x"}},
            ],
            "stop_reason": "tool_use",
            "usage": {
                "input_tokens": 30,
                "output_tokens": 7,
                "cache_read_input_tokens": 60,
                "cache_creation_input_tokens": 10,
            },
        },
        created=123,
    )
    choice = completion["choices"][0]
    assert choice["message"]["content"] == "Sure. "
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"q":"x"}'}
    assert choice["finish_reason"] == "tool_calls"
    assert completion["created"] == 123
    assert completion["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 7,
        "total_tokens": 107,
        "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10},
    }


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop: str, finish: str) -> None:
    body = {"content": [{"type": "text", "text": "x"}], "stop_reason": stop}
    assert anthropic_to_openai.response(body)["choices"][0]["finish_reason"] == finish


def event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


STREAM = [
    event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude",
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1},
            },
        },
    ),
    event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    event("ping", {"type": "ping"}),
    event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    ),
    event("content_block_stop", {"type": "content_block_stop", "index": 0}),
    event(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
    ),
    event(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"q":'},
        },
    ),
    event(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"z"}'},
        },
    ),
    event("content_block_stop", {"type": "content_block_stop", "index": 1}),
    event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
    ),
    event("message_stop", {"type": "message_stop"}),
]


def test_a_stream_becomes_chat_chunks_with_tool_argument_deltas_and_done() -> None:
    translator = anthropic_to_openai.StreamTranslator(client_wants_usage=True, created=7)
    out = [chunk for e in STREAM for chunk in translator.feed(e)]
    assert out[-1] == b"data: [DONE]\n\n"
    payloads = [event_json(c) for c in out[:-1]]
    assert all(p["id"] == "msg_1" and p["created"] == 7 for p in payloads)
    deltas = [p["choices"][0]["delta"] for p in payloads if p["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"] == [
        {
            "index": 0,
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "f", "arguments": ""},
        }
    ]
    assert [d["tool_calls"][0]["function"]["arguments"] for d in deltas[3:5]] == ['{"q":', '"z"}']
    assert payloads[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert payloads[-1]["choices"] == []
    assert payloads[-1]["usage"]["prompt_tokens"] == 15
    assert payloads[-1]["usage"]["completion_tokens"] == 9
    assert payloads[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 5
    assert translator.finish_reason == "tool_calls"


def test_without_include_usage_no_usage_chunk_is_sent() -> None:
    translator = anthropic_to_openai.StreamTranslator(client_wants_usage=False)
    out = [chunk for e in STREAM for chunk in translator.feed(e)]
    assert not any(b'"usage"' in chunk for chunk in out)


def test_the_anthropic_scanner_and_assembler_read_the_same_stream() -> None:
    scanner = anthropic_adapter.StreamScanner()
    for e in STREAM:
        assert scanner.feed(e)
    assert scanner.saw_done
    assert scanner.summary.finish_reason == "tool_use"
    usage = scanner.summary.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (15, 9, 5)
    message = anthropic_adapter.assemble_stream(STREAM)
    assert message["text"] == "Hi"
    assert message["content"][1] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "f",
        "input": {"q": "z"},
    }
    assert message["stop_reason"] == "tool_use" and message["usage"]["output_tokens"] == 9


def test_an_error_event_becomes_an_openai_error_chunk() -> None:
    translator = anthropic_to_openai.StreamTranslator()
    [out] = translator.feed(
        event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    )
    assert event_json(out)["error"]["message"] == "busy"


def test_it_says_which_fields_it_leaves_out() -> None:
    body = {"model": "g", "max_tokens": 5, "messages": [], "top_k": 3, "thinking": {}}
    assert anthropic_to_openai.dropped(body) == ["thinking", "top_k"]


def test_blocks_chat_cannot_show_are_left_out_of_an_answer() -> None:
    completion = anthropic_to_openai.response(
        {
            "content": [
                {"type": "thinking", "thinking": "hmm"},
                {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
                {"type": "text", "text": "Found it."},
            ],
            "stop_reason": "end_turn",
        }
    )
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "Found it."}


def test_a_system_prompt_that_is_not_blocks_is_refused() -> None:
    with pytest.raises(TranslationError):
        anthropic_to_openai.request(
            {"model": "g", "max_tokens": 1, "system": ["x"], "messages": []}
        )
