"""Audit seam for anomaly responses.

Every automated action and every reversal goes through `record_action`: it
appends to the project's hash-chained audit trail (`security.services.audit`)
and keeps an `AnomalyAction` row, the per-anomaly history shown in admin.
"""

from __future__ import annotations

from typing import Any

SYSTEM_ACTOR = "anomaly-detector"


def record_action(actor: str, action: str, target: str, details: dict[str, Any]) -> None:
    from security.anomaly.models import AnomalyAction
    from security.services.audit import audit_record

    audit_actor = actor if ":" in actor else f"system:{actor}"
    audit_record(
        actor=audit_actor,
        action=f"anomaly.{action}",
        object_type="anomaly-target",
        object_repr=target[:200],
        data=details,
    )
    AnomalyAction.objects.create(actor=actor, action=action, target=target, details=details)
