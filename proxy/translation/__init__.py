"""Translation between the OpenAI chat and Anthropic messages APIs, both ways.

Pure functions and per-stream state objects; no I/O, no Django. Each module
converts *from* one format *to* the other, whatever the object:

- `openai_to_anthropic`: an OpenAI chat request, chat.completion, or chunk stream
  becomes its Anthropic equivalent;
- `anthropic_to_openai`: the reverse.

A caller in format A reaching an upstream in format B has its request body
converted by `A_to_B.request`, and the answer by `B_to_A.response` (or a
`B_to_A.StreamTranslator` for streams). `pair(A, B)` gives those three.
What cannot be expressed in the other format raises `TranslationError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any

# (caller format, upstream format) -> (request module, response module)
TRANSLATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("openai", "anthropic"): (
        "proxy.translation.openai_to_anthropic",
        "proxy.translation.anthropic_to_openai",
    ),
    ("anthropic", "openai"): (
        "proxy.translation.anthropic_to_openai",
        "proxy.translation.openai_to_anthropic",
    ),
}

# Anthropic requires max_tokens; this is used when an OpenAI caller gave none.
DEFAULT_MAX_TOKENS = 4096

# Anthropic stop_reason -> OpenAI finish_reason
STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# OpenAI finish_reason -> Anthropic stop_reason
FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


class TranslationError(ValueError):
    """The request uses something the other API cannot express."""


@dataclass(frozen=True, slots=True)
class Pair:
    """How a caller in one format talks to an upstream in another."""

    requests: ModuleType  # request(body, *, default_max_tokens) -> upstream body; dropped(body)
    responses: ModuleType  # response(body, *, created) -> caller body; StreamTranslator(...)

    def upstream_endpoint(self, endpoint: str) -> str:
        try:
            return str(self.requests.ENDPOINTS[endpoint])
        except KeyError as exc:
            raise TranslationError(
                f"The {endpoint!r} endpoint has no equivalent in the upstream's API."
            ) from exc


@cache
def pair(caller: str, upstream: str) -> Pair:
    try:
        requests, responses = TRANSLATIONS[(caller, upstream)]
    except KeyError as exc:
        raise TranslationError(f"No translation from {caller} to {upstream}.") from exc
    return Pair(import_module(requests), import_module(responses))


def json_object(value: Any) -> dict[str, Any]:
    """A dict, or a TranslationError saying the value is not one."""
    if not isinstance(value, dict):
        raise TranslationError(f"Expected a JSON object, got {type(value).__name__}.")
    return value
