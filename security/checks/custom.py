"""Custom rules: regular expressions, keyword lists, denied topics, prompt size,
allowed and denied models.

The model checks read the model the caller asked for, passed in as `model`.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from security.checks import CheckParams, Detection

NAME = "custom"


class Params(CheckParams):
    patterns: list[str] = Field(default_factory=list, description="Regular expressions.")
    keywords: list[str] = Field(
        default_factory=list, description="Words or phrases (case-insensitive, whole words)."
    )
    denied_topics: dict[str, list[str]] = Field(
        default_factory=dict, description="Topic name -> words or phrases that signal it."
    )
    max_chars: int | None = Field(
        default=None, ge=1, description="Largest text allowed, in characters."
    )
    allowed_models: list[str] = Field(default_factory=list, description="Empty: every model.")
    denied_models: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return value


def _words(words: list[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.I)


def detect(text: str, params: Params, model: str = "") -> list[Detection]:
    found: list[Detection] = []
    for pattern in params.patterns:
        for m in re.finditer(pattern, text):
            found.append(Detection(NAME, "pattern", 1.0, m.start(), m.end()))
    keywords = _words(params.keywords)
    if keywords is not None:
        found.extend(
            Detection(NAME, "keyword", 1.0, m.start(), m.end()) for m in keywords.finditer(text)
        )
    for topic, words in params.denied_topics.items():
        topic_words = _words(words)
        if topic_words is not None:
            found.extend(
                Detection(NAME, f"topic:{topic}", 1.0, m.start(), m.end())
                for m in topic_words.finditer(text)
            )
    if params.max_chars is not None and len(text) > params.max_chars:
        found.append(Detection(NAME, "too_long", 1.0, params.max_chars, len(text)))
    return found


def check_model(model: str, params: Params) -> list[Detection]:
    """Model allow and deny lists, checked once per request."""
    if not model:
        return []
    if (
        params.allowed_models and model not in params.allowed_models
    ) or model in params.denied_models:
        return [Detection(NAME, "model_denied", 1.0, 0, 0)]
    return []
