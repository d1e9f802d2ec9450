"""Security configuration (policies and their rules), detections, and the audit trail."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from security.checks import CHECKS, parse_params


class Policy(models.Model):
    """A named set of ordered rules, applied to a scope in one direction."""

    class Scope(models.TextChoices):
        GLOBAL = "global", "Global"
        NAMESPACE = "namespace", "Namespace"
        KEY = "key", "API key"

    class Mode(models.TextChoices):
        ENFORCE = "enforce", "Enforce"
        MONITOR = "monitor", "Monitor (dry run: record what would have happened)"

    class Direction(models.TextChoices):
        INPUT = "input", "Input (prompts)"
        OUTPUT = "output", "Output (responses)"
        BOTH = "both", "Both"

    name = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.GLOBAL)
    namespace = models.ForeignKey(
        "proxy.Namespace", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    api_key = models.ForeignKey(
        "proxy.ApiKey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ENFORCE)
    direction = models.CharField(max_length=16, choices=Direction.choices, default=Direction.INPUT)
    priority = models.IntegerField(default=100, help_text="Lower runs first.")
    reversible = models.BooleanField(
        default=False,
        help_text="Redact with numbered placeholders (<EMAIL_1>) and put the values back "
        "into the response, so the user sees them and the provider never does.",
    )
    webhook_url = models.URLField(blank=True, help_text="Alerts are also POSTed here (JSON).")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.scope == self.Scope.NAMESPACE and self.namespace_id is None:
            raise ValidationError({"namespace": "A namespace policy needs a namespace."})
        if self.scope == self.Scope.KEY and self.api_key_id is None:
            raise ValidationError({"api_key": "A key policy needs an API key."})


class PolicyRule(models.Model):
    class Action(models.TextChoices):
        BLOCK = "block", "Block"
        REDACT = "redact", "Redact"
        FLAG = "flag", "Flag (record only)"
        ALERT = "alert", "Alert (record, live event, webhook)"

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="rules")
    order = models.PositiveIntegerField(default=0)
    detector = models.CharField(max_length=32, choices=[(n, n) for n in CHECKS])
    params = models.JSONField(default=dict, blank=True, help_text="Typed; see docs/security.md.")
    threshold = models.FloatField(default=0.5, help_text="Lowest score that triggers the action.")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.BLOCK)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.detector} → {self.action}"

    def clean(self) -> None:
        try:
            parse_params(self.detector, self.params)
        except (ValueError, KeyError) as exc:
            raise ValidationError({"params": str(exc)}) from exc


class SecurityEvent(models.Model):
    """One detection on one request: where (offsets), how sure, what was done. Never the text."""

    request_log = models.ForeignKey(
        "proxy.RequestLog", on_delete=models.CASCADE, related_name="security_events"
    )
    created_at = models.DateTimeField(db_index=True)
    namespace_id = models.IntegerField(null=True, blank=True, db_index=True)
    api_key_id = models.IntegerField(null=True, blank=True)
    policy = models.CharField(max_length=100)
    mode = models.CharField(max_length=16)
    direction = models.CharField(max_length=16)
    detector = models.CharField(max_length=32)
    label = models.CharField(max_length=64)
    score = models.FloatField()
    message_index = models.IntegerField(null=True, blank=True)
    start = models.IntegerField()
    end = models.IntegerField()
    action = models.CharField(max_length=16, help_text="What the rule asks for.")
    action_taken = models.CharField(max_length=16, help_text="What happened ('none' in monitor).")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.detector}/{self.label} {self.action_taken}"


class AuditEntry(models.Model):
    """Append-only and hash-chained: each entry's hash covers its content and the previous hash."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.actor} {self.action} {self.object_repr}"

    def content(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "data": self.data,
        }


from security.anomaly.models import *  # noqa: E402, F403  (anomaly detection)
