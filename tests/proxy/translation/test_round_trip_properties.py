"""Property-based: valid OpenAI chat requests survive OpenAI → Anthropic → OpenAI, and a
stream translates to the same result however its bytes are split into chunks."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.providers.sse import EventSplitter, event_json
from proxy.translation import anthropic_to_openai, openai_to_anthropic

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

text = st.text(min_size=1, max_size=40)
names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10)
arguments = st.dictionaries(names, json_scalars, max_size=4)
images = st.one_of(
    st.builds(lambda n: f"https://img.example.com/{n}.png", names),
    st.builds(
        lambda kind, data: f"data:image/{kind};base64,{data}",
        st.sampled_from(["png", "jpeg", "webp"]),
        st.from_regex(r"[A-Za-z0-9+/]{4,40}={0,2}", fullmatch=True),
    ),
)
text_part = st.builds(lambda t: {"type": "text", "text": t}, text)
image_part = st.builds(lambda url: {"type": "image_url", "image_url": {"url": url}}, images)
user_content = text | st.lists(text_part | image_part, min_size=1, max_size=4)


@st.composite
def conversations(draw: st.DrawFn, tool_names: list[str]) -> list[dict[str, Any]]:
    """user, then (assistant [tool calls, their results], user) turns, as clients send them."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": draw(user_content)}]
    for turn in range(draw(st.integers(0, 3))):
        calls = []
        if tool_names and draw(st.booleans()):
            for index in range(draw(st.integers(1, 2))):
                calls.append(
                    {
                        "id": f"call_{turn}_{index}",
                        "type": "function",
                        "function": {
                            "name": draw(st.sampled_from(tool_names)),
                            "arguments": json.dumps(draw(arguments)),
                        },
                    }
                )
        assistant: dict[str, Any] = {"role": "assistant", "content": draw(st.none() | text)}
        if calls:
            assistant["tool_calls"] = calls
        elif assistant["content"] is None:
            assistant["content"] = draw(text)
        messages.append(assistant)
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": draw(text)})
        messages.append({"role": "user", "content": draw(user_content)})
    return messages


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    tool_names = draw(st.lists(names, max_size=3, unique=True))
    body: dict[str, Any] = {"model": "m", "max_tokens": draw(st.integers(1, 8192))}
    system = draw(st.lists(text, max_size=2))
    body["messages"] = [{"role": "system", "content": s} for s in system] + draw(
        conversations(tool_names)
    )
    if tool_names:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": draw(text),
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
            for name in tool_names
        ]
        body["tool_choice"] = draw(
            st.sampled_from(["auto", "none", "required"])
            | st.builds(
                lambda n: {"type": "function", "function": {"name": n}},
                st.sampled_from(tool_names),
            )
        )
    if draw(st.booleans()):
        body["stop"] = draw(text | st.lists(text, min_size=1, max_size=3))
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        body["user"] = draw(text)
    return body


def conversation_items(messages: list[dict[str, Any]]) -> tuple[str, list[tuple[Any, ...]]]:
    """(system text, the conversation as items), adjacent texts of one role joined."""
    system = []
    items: list[tuple[Any, ...]] = []

    def add_text(role: str, value: str) -> None:
        if not value:
            return
        if items and items[-1][0] == "text" and items[-1][1] == role:
            items[-1] = ("text", role, items[-1][2] + value)
        else:
            items.append(("text", role, value))

    for message in messages:
        role, content = message["role"], message.get("content")
        if role == "system":
            system.append(content)
            continue
        if role == "tool":
            items.append(("result", message["tool_call_id"], content))
            continue
        for part in (
            [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        ):
            if part["type"] == "text":
                add_text(role, part["text"])
            else:
                items.append(("image", part["image_url"]["url"]))
        for call in message.get("tool_calls") or ():
            function = call["function"]
            items.append(("call", call["id"], function["name"], json.loads(function["arguments"])))
    return "\n\n".join(system), items


@PROPERTY_SETTINGS
@given(chat_requests())
def test_a_chat_request_survives_the_round_trip_through_anthropic(body: dict[str, Any]) -> None:
    there = openai_to_anthropic.request(body)
    back = anthropic_to_openai.request(there)

    assert conversation_items(back["messages"]) == conversation_items(body["messages"])
    assert back["max_tokens"] == body["max_tokens"]
    assert back.get("temperature") == body.get("temperature")
    stop = body.get("stop")
    assert back.get("stop") == ([stop] if isinstance(stop, str) else stop)
    assert back.get("user") == body.get("user")
    tools = body.get("tools")
    assert back.get("tools") == tools
    if tools:
        assert back["tool_choice"] == body["tool_choice"]


def test_the_round_trip_keeps_every_kind_of_content() -> None:
    """A fixed example of the property, to read: every part kind in one request."""
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
            {"role": "user", "content": "thanks"},
        ],
    }
    back = anthropic_to_openai.request(openai_to_anthropic.request(body))
    assert conversation_items(back["messages"]) == conversation_items(body["messages"])


# --- streams ---------------------------------------------------------------------


def openai_stream(words: list[str], tool_args: str | None) -> bytes:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": w} for w in words]
    if tool_args is not None:
        half = len(tool_args) // 2
        deltas.append(
            {"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                             "function": {"name": "f", "arguments": tool_args[:half]}}]}
        )  # fmt: skip
        deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": tool_args[half:]}}]})
    chunks = [
        {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    finish = "tool_calls" if tool_args is not None else "stop"
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    return b"".join(events) + b"data: [DONE]\n\n"


def split_at(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


def translate(translator: Any, pieces: list[bytes]) -> list[bytes]:
    splitter = EventSplitter()
    out: list[bytes] = []
    for piece in pieces:
        for event in splitter.feed(piece):
            out.extend(translator.feed(event))
    return out


def assembled(events: list[bytes]) -> dict[str, Any]:
    """What a client puts together from either API's stream: text, tool arguments, end."""
    result: dict[str, Any] = {"text": "", "tool": "", "finish": None}
    for event in events:
        payload = event_json(event)
        if not isinstance(payload, dict):
            continue
        delta = payload.get("delta") or {}
        if delta.get("type") == "text_delta":
            result["text"] += delta["text"]
        elif delta.get("type") == "input_json_delta":
            result["tool"] += delta["partial_json"]
        elif payload.get("type") == "message_delta":
            result["finish"] = delta.get("stop_reason")
        for choice in payload.get("choices") or ():
            d = choice.get("delta") or {}
            result["text"] += d.get("content") or ""
            for call in d.get("tool_calls") or ():
                result["tool"] += (call.get("function") or {}).get("arguments") or ""
            result["finish"] = choice.get("finish_reason") or result["finish"]
    return result


stream_words = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=12)
tool_arguments = st.none() | arguments.map(json.dumps)
cuts = st.lists(st.integers(0, 10_000), max_size=30)


@PROPERTY_SETTINGS
@given(stream_words, tool_arguments, cuts)
def test_any_chunking_of_an_openai_stream_translates_to_the_same_anthropic_answer(
    words: list[str], tool_args: str | None, cut: list[int]
) -> None:
    raw = openai_stream(words, tool_args)
    whole = translate(openai_to_anthropic.StreamTranslator(), [raw])
    pieces = translate(openai_to_anthropic.StreamTranslator(), split_at(raw, cut))

    assert pieces == whole
    result = assembled(whole)
    assert result["text"] == "".join(words)
    assert result["tool"] == (tool_args or "")
    assert result["finish"] == ("tool_use" if tool_args is not None else "end_turn")


@PROPERTY_SETTINGS
@given(stream_words, tool_arguments, cuts)
def test_any_chunking_of_an_anthropic_stream_translates_to_the_same_openai_answer(
    words: list[str], tool_args: str | None, cut: list[int]
) -> None:
    raw = b"".join(
        translate(openai_to_anthropic.StreamTranslator(), [openai_stream(words, tool_args)])
    )
    whole = translate(anthropic_to_openai.StreamTranslator(), [raw])
    pieces = translate(anthropic_to_openai.StreamTranslator(), split_at(raw, cut))

    assert pieces == whole
    result = assembled(whole)
    assert result["text"] == "".join(words)
    assert json.loads(result["tool"] or "null") == (json.loads(tool_args) if tool_args else None)
    assert whole[-1] == b"data: [DONE]\n\n"
