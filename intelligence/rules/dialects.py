"""Where each API format keeps what rules edit. One class per format, in a registry.

OpenAI chat: the system prompt is the `system` (or `developer`) messages; stop
sequences are `stop` (a string or up to 4 strings). Anthropic messages: the
system prompt is `body["system"]` (a string or a list of text blocks); stop
sequences are `stop_sequences`. Both put few-shot turns in `messages`. A parameter
a format does not know (`params`) is left alone by `set_param` and `clamp_param`.
"""

from __future__ import annotations

from typing import Any

SYSTEM_ROLES = ("system", "developer")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    return ""


class OpenAIDialect:
    stop_param = "stop"
    max_stops = 4
    params = frozenset(
        {
            "temperature",
            "top_p",
            "max_tokens",
            "max_completion_tokens",
            "presence_penalty",
            "frequency_penalty",
            "seed",
            "n",
            "reasoning_effort",
        }
    )

    @staticmethod
    def get_system(body: dict[str, Any]) -> str | None:
        parts = [
            _text_of(m.get("content"))
            for m in body.get("messages") or ()
            if isinstance(m, dict) and m.get("role") in SYSTEM_ROLES
        ]
        return "\n\n".join(parts) if parts else None

    @staticmethod
    def set_system(body: dict[str, Any], text: str) -> None:
        """Replace every system message by one, first."""
        rest = [
            m
            for m in body.get("messages") or ()
            if not (isinstance(m, dict) and m.get("role") in SYSTEM_ROLES)
        ]
        body["messages"] = [{"role": "system", "content": text}, *rest]

    @staticmethod
    def first_turn_index(body: dict[str, Any]) -> int:
        """Where few-shot turns go: after the leading system messages."""
        index = 0
        for message in body.get("messages") or ():
            if isinstance(message, dict) and message.get("role") in SYSTEM_ROLES:
                index += 1
            else:
                break
        return index


class AnthropicDialect:
    stop_param = "stop_sequences"
    max_stops = 16
    params = frozenset({"temperature", "top_p", "top_k", "max_tokens"})

    @staticmethod
    def get_system(body: dict[str, Any]) -> str | None:
        system = body.get("system")
        return _text_of(system) if system else None

    @staticmethod
    def set_system(body: dict[str, Any], text: str) -> None:
        body["system"] = text

    @staticmethod
    def first_turn_index(body: dict[str, Any]) -> int:
        return 0


Dialect = type[OpenAIDialect] | type[AnthropicDialect]
DIALECTS: dict[str, Dialect] = {"openai": OpenAIDialect, "anthropic": AnthropicDialect}


def dialect_for(api_format: str) -> Dialect:
    return DIALECTS.get(api_format, OpenAIDialect)
