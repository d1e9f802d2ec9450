"""Scan API schemas (the stable scan format)."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field


class ScanItem(Schema):
    id: Any = None
    text: str | None = None
    messages: list[dict[str, Any]] | None = None
    model: str | None = None


class ScanRequest(Schema):
    policy: str | None = Field(default=None, description="Policy name; default: every detector on.")
    items: list[ScanItem] = Field(max_length=1000)


class Detection(Schema):
    detector: str
    label: str
    score: float
    start: int
    end: int
    message: int | None = None


class ScanResult(Schema):
    id: Any = None
    action: str | None = None
    score: float | None = None
    detections: list[Detection] = []
    redacted: str | None = None
    error: str | None = None


class ScanResponse(Schema):
    policy: str
    results: list[ScanResult]
