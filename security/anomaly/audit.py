"""Audit seam for anomaly responses.

Every automated action and every reversal goes through `record_action`. It
writes an `AnomalyAction` for now; the integrator points it at the project's
audit trail once that exists (same signature).
"""

from __future__ import annotations

from typing import Any

SYSTEM_ACTOR = "anomaly-detector"


def record_action(actor: str, action: str, target: str, details: dict[str, Any]) -> None:
    from security.anomaly.models import AnomalyAction

    AnomalyAction.objects.create(actor=actor, action=action, target=target, details=details)
