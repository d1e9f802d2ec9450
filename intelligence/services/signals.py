"""Success signals read from one logged request: errors, truncation, refusals, JSON validity.

Pure functions over the stored request and response bodies (OpenAI or Anthropic
shape); the insight job calls them off the request path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# A refusal opens the answer: an apology or a statement of inability, then a
# verb of helping. Matched on the first 300 characters only, so an answer that
# merely quotes such a phrase later on is not a refusal.
_REFUSAL = re.compile(
    r"^\W*(?:"
    r"(?:i'?m|i am)\s+(?:really\s+|very\s+)?sorry,?\s+(?:but\s+)?i\s+(?:can(?:'|no)?t|cannot|won'?t|am\s+(?:not\s+able|unable))"
    r"|i\s+(?:can(?:'|no)?t|cannot|won'?t|will\s+not|am\s+(?:not\s+able|unable)\s+to|must\s+decline|(?:have\s+to\s+)?decline)\s+"
    r"(?:help|assist|provide|comply|do\s+that|fulfil|fulfill|create|write|share|answer|generate|engage|support|continue|to)"
    r"|i\s+(?:won'?t|will\s+not)\s+be\s+able\s+to"
    r"|i\s+(?:must|have\s+to|need\s+to)\s+(?:respectfully\s+)?decline"
    r"|(?:unfortunately|sorry),?\s+i\s+(?:can(?:'|no)?t|cannot|am\s+(?:not\s+able|unable))"
    r"|as\s+an\s+ai(?:\s+language\s+model)?,?\s+i\s+(?:can(?:'|no)?t|cannot|am\s+not\s+able|don'?t|do\s+not)"
    r"|(?:i'?m|i am)\s+(?:not\s+able|unable)\s+to\s+(?:help|assist|provide|comply)"
    r")",
    re.I,
)
TRUNCATION_REASONS = frozenset({"length", "max_tokens"})


def is_refusal(text: str) -> bool:
    return bool(text) and _REFUSAL.search(text[:300].replace("\u2019", "'")) is not None


def response_text(response: Any, streamed_text: str = "") -> str:
    """The assistant's text from an OpenAI chat completion or an Anthropic message."""
    if streamed_text:
        return streamed_text
    if not isinstance(response, dict):
        return ""
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message") or {}
        content = message.get("content")
        return content if isinstance(content, str) else ""
    content = response.get("content")
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return response.get("text", "") if isinstance(response.get("text"), str) else ""


def explicit_refusal(response: Any) -> bool:
    """OpenAI's structured `message.refusal`, or a content filter stop."""
    if not isinstance(response, dict):
        return False
    for choice in response.get("choices") or ():
        if isinstance(choice, dict):
            if (choice.get("message") or {}).get("refusal"):
                return True
            if choice.get("finish_reason") == "content_filter":
                return True
    return response.get("stop_reason") == "refusal"


def wanted_schema(request: Any) -> tuple[bool, dict[str, Any] | None]:
    """(JSON asked for?, the JSON schema if one was given) from `response_format`."""
    if not isinstance(request, dict):
        return False, None
    response_format = request.get("response_format")
    if not isinstance(response_format, dict):
        return False, None
    kind = response_format.get("type")
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return True, schema if isinstance(schema, dict) else None
    return False, None


_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def matches_schema(value: Any, schema: dict[str, Any], depth: int = 0) -> bool:
    """A subset of JSON Schema: type, required, properties, items, enum."""
    if depth > 20:
        return True
    expected = schema.get("type")
    if (
        isinstance(expected, str)
        and expected in _TYPES
        and (
            not isinstance(value, _TYPES[expected])
            or (expected in ("integer", "number") and isinstance(value, bool))
        )
    ):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, dict):
        if any(name not in value for name in schema.get("required") or ()):
            return False
        for name, sub in (schema.get("properties") or {}).items():
            if (
                name in value
                and isinstance(sub, dict)
                and not matches_schema(value[name], sub, depth + 1)
            ):
                return False
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return all(matches_schema(item, schema["items"], depth + 1) for item in value)
    return True


def json_validity(request: Any, text: str) -> bool | None:
    """None when no JSON was asked for; else whether the answer is valid (and fits the schema)."""
    asked, schema = wanted_schema(request)
    if not asked:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return schema is None or matches_schema(value, schema)


@dataclass(frozen=True, slots=True)
class Signals:
    errored: bool
    truncated: bool
    refused: bool
    json_valid: bool | None

    @property
    def outcome(self) -> str:
        if self.errored:
            return "error"
        if self.truncated:
            return "truncated"
        if self.refused:
            return "refused"
        if self.json_valid is False:
            return "invalid_json"
        return "success"


def read_signals(
    *,
    status_code: int,
    error_type: str,
    finish_reason: str,
    request: Any,
    response: Any,
    streamed_text: str = "",
) -> Signals:
    errored = status_code >= 400 or bool(error_type)
    text = "" if errored else response_text(response, streamed_text)
    return Signals(
        errored=errored,
        truncated=not errored and finish_reason in TRUNCATION_REASONS,
        refused=not errored and (explicit_refusal(response) or is_refusal(text)),
        json_valid=None
        if errored or finish_reason in TRUNCATION_REASONS
        else json_validity(request, text),
    )
