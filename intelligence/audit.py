"""Every enhancement decision goes through `audit(actor, action, target, details)`.

THE SEAM for the integrator: when the security app's hash-chained audit trail is
installed (`security.services.audit.audit_record(*, actor, action, obj,
object_type, object_id, object_repr, data)`), decisions are appended there;
until then they are written to `intelligence.DecisionRecord`. Nothing else in the
intelligence app writes audit records.

Actions: rule.create, rule.change, rule.enable, rule.disable, rule.delete,
suggestion.create, suggestion.approve, suggestion.reject,
experiment.start, experiment.stop, experiment.decide, experiment.promote,
experiment.rollback, experiment.guardrail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.utils.module_loading import import_string

SECURITY_AUDIT = "security.services.audit.audit_record"


def _security_audit() -> Callable[..., Any] | None:
    try:
        return import_string(SECURITY_AUDIT)  # type: ignore[no-any-return]
    except ImportError:
        return None


def audit(actor: str, action: str, target: Any, details: dict[str, Any] | None = None) -> None:
    """Record one decision. `target` is a model instance or a short description."""
    details = details or {}
    record = _security_audit()
    if record is not None:
        if isinstance(target, models.Model):
            record(actor=actor, action=action, obj=target, data=details)
        else:
            record(actor=actor, action=action, object_repr=str(target)[:200], data=details)
        return
    from intelligence.models import DecisionRecord

    label = (
        f"{target._meta.label_lower}:{target.pk} {target}"
        if isinstance(target, models.Model)
        else str(target)
    )
    DecisionRecord.objects.create(
        actor=actor[:150], action=action[:64], target=label[:200], details=details
    )


def actor_of(user: Any) -> str:
    """`admin:<username>` for a Django user, the given string otherwise."""
    if isinstance(user, str):
        return user
    return f"admin:{getattr(user, 'username', '') or 'anonymous'}"
