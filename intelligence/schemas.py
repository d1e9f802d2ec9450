"""Input and output shapes of the intelligence API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field


class FeedbackIn(Schema):
    request_id: str = Field(
        max_length=32,
        pattern=r"^[0-9A-Za-z]+$",
        description="From the `x-llmproxy-request-id` header.",
    )
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    thumbs: Literal["up", "down"] | None = None
    comment: str = Field(default="", max_length=4000, pattern=r"^[^\x00]*$")


class FeedbackOut(Schema):
    id: int
    request_id: str
    score: float


class TemplateOut(Schema):
    id: int
    version: int
    text: str
    variables: list[dict[str, str]]
    examples: int


class PatternOut(Schema):
    id: int
    fingerprint: str
    kind: str
    name: str
    category: str | None
    requests: int
    success_rate: float | None
    error_rate: float | None
    truncation_rate: float | None
    refusal_rate: float | None
    feedback_score: float | None
    avg_latency_ms: float | None
    avg_tokens: float | None
    cost_usd: float
    trend: float | None
    last_seen_at: datetime


class StatOut(Schema):
    hour: datetime
    requests: int
    successes: int
    errors: int
    truncations: int
    refusals: int
    feedback_count: int
    feedback_sum: float
    latency_ms_sum: float
    cost_usd: float


class PatternDetailOut(PatternOut):
    versions: list[TemplateOut]
    stats: list[StatOut]
    examples: list[str] = Field(description="Request ids of recent requests of this pattern.")


class ClassifyItem(Schema):
    id: str | int
    text: str


class ClassifyIn(Schema):
    items: list[ClassifyItem] = Field(max_length=1000)


class ClassifyResult(Schema):
    id: str | int
    pattern_id: int | None
    template: str | None
    category: str | None
    confidence: float | None


class LabelledIn(Schema):
    text: str
    label: str = Field(max_length=64)


class TrainIn(Schema):
    examples: list[LabelledIn] = Field(default_factory=list)


class TrainOut(Schema):
    examples: int
    categories: list[str]


class LearnOut(Schema):
    requests: int
    new_patterns: int
    new_versions: int
    feedback: int
