"""Who may see which namespace on the dashboard, and the cross-process event outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from proxy.models import Namespace


class NamespaceMembership(models.Model):
    """Ties a Django user to a namespace they may view on the dashboard.

    Staff users see every namespace and need no membership; any other user sees
    only the namespaces listed here (and nothing when there are none).
    """

    class Role(models.TextChoices):
        VIEWER = "viewer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="namespace_memberships"
    )
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "namespace"], name="membership_per_namespace")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.namespace}"


class EventOutbox(models.Model):
    """A coalesced batch of dashboard events, for delivery to other processes.

    Used by the `database` event transport (the embedded default, without Redis):
    each process appends its batches, each WebSocket-serving process polls for
    batches from other origins. Rows are pruned after `DASHBOARD_OUTBOX_KEEP_SECONDS`.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    origin = models.CharField(max_length=64)
    events = models.JSONField()

    def __str__(self) -> str:
        return f"{self.origin} #{self.pk}"
