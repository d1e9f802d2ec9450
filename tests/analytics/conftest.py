from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.dashboard.conftest import personas  # noqa: F401  (shared personas)

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)


def log(**fields: Any) -> Any:
    """A stored request log with sensible defaults."""
    import uuid

    from proxy.models import RequestLog

    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "created_at": NOW,
        "endpoint": "chat",
        "api_format": "openai",
        "requested_model": "gpt-4o",
        "resolved_model": "gpt-4o",
        "provider": "openai",
        "status_code": 200,
        "latency_ms": 100.0,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "cost_usd": Decimal("0.001"),
        "finish_reason": "stop",
    }
    values.update(fields)
    return RequestLog.objects.create(**values)


@pytest.fixture
def now() -> datetime:
    return NOW
