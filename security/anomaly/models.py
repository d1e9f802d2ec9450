"""Anomaly detection records: baselines, anomalies, response rules, countermeasures.

Registered in the `security` app (imported by `security/models.py`).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from proxy.models import ApiKey, Namespace

SEVERITY_CHOICES = [(s, s) for s in ("low", "medium", "high", "critical")]
KIND_CHOICES = [
    ("request_rate", "Request rate"),
    ("token_rate", "Token rate"),
    ("cost_rate", "Cost rate"),
    ("error_rate", "Error rate"),
    ("security_rate", "Security detections"),
    ("new_clients", "New client IPs or user agents"),
    ("off_hours", "Off-hours use"),
    ("prompt_length", "Prompt length shift"),
]


class Baseline(models.Model):
    """A fitted baseline (from stored history) that new profiles start from.

    `subject` is "key", "namespace" (the whole namespace) or "namespace_key"
    (the namespace's typical key, which a new key starts from).
    """

    subject = models.CharField(max_length=16)
    subject_id = models.BigIntegerField()
    stats = models.JSONField(
        help_text="The fitted statistics (see security.anomaly.baselines.Seed)."
    )
    fitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "security"
        constraints = [
            models.UniqueConstraint(fields=["subject", "subject_id"], name="baseline_per_subject")
        ]

    def __str__(self) -> str:
        return f"{self.subject}:{self.subject_id}"


class AnomalyQuerySet(models.QuerySet["Anomaly"]):
    def ongoing(self) -> AnomalyQuerySet:
        return self.exclude(state=Anomaly.State.RESOLVED)


class Anomaly(models.Model):
    """One episode of unusual behaviour of a key or namespace, updated while it lasts."""

    class State(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    subject = models.CharField(max_length=40, help_text='"key:12" or "namespace:3".')
    namespace = models.ForeignKey(
        Namespace, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="anomalies"
    )
    kind = models.CharField(max_length=32, choices=KIND_CHOICES)
    severity = models.CharField(max_length=16, choices=SEVERITY_CHOICES)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    summary = models.TextField(help_text="What changed, by how much, compared to what.")
    evidence = models.JSONField(default=dict, blank=True)
    peak_ratio = models.FloatField(default=0.0)
    occurrences = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = AnomalyQuerySet.as_manager()

    class Meta:
        app_label = "security"
        ordering = ["-last_seen"]
        verbose_name_plural = "anomalies"
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "kind"],
                condition=~models.Q(state="resolved"),
                name="one_ongoing_anomaly_per_subject_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.kind} {self.subject}"


class ResponseRule(models.Model):
    """Anomaly kind and severity → an automated action."""

    class Action(models.TextChoices):
        ALERT = "alert", "Alert (live event and optional webhook)"
        THROTTLE = "throttle", "Throttle (lower the key's requests per minute)"
        SUSPEND = "suspend", "Suspend the key"
        BLOCK_IP = "block_ip", "Block the new client IPs for this key"

    name = models.CharField(max_length=100)
    kind = models.CharField(
        max_length=32, choices=KIND_CHOICES, blank=True, help_text="Empty: every kind."
    )
    min_severity = models.CharField(max_length=16, choices=SEVERITY_CHOICES, default="high")
    action = models.CharField(max_length=16, choices=Action.choices)
    namespace = models.ForeignKey(
        Namespace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: every namespace.",
    )
    throttle_rpm = models.PositiveIntegerField(
        null=True, blank=True, help_text="Throttle: requests per minute allowed meanwhile."
    )
    duration_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Throttle or IP block: lifted after this long. Empty: until lifted.",
    )
    webhook_url = models.URLField(blank=True, help_text="Alert: also POST the anomaly here.")
    enabled = models.BooleanField(default=True)

    class Meta:
        app_label = "security"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CountermeasureQuerySet(models.QuerySet["Countermeasure"]):
    def in_force(self, now: Any = None) -> CountermeasureQuerySet:
        now = now or timezone.now()
        return self.filter(lifted_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class Countermeasure(models.Model):
    """An automated action in force on a key: reversible, and possibly expiring."""

    action = models.CharField(max_length=16, choices=ResponseRule.Action.choices)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="countermeasures")
    anomaly = models.ForeignKey(
        Anomaly, on_delete=models.SET_NULL, null=True, blank=True, related_name="countermeasures"
    )
    rule = models.ForeignKey(
        ResponseRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=150, blank=True)

    objects = CountermeasureQuerySet.as_manager()

    class Meta:
        app_label = "security"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        target = f" {self.client_ip}" if self.client_ip else ""
        return f"{self.action}{target} on {self.api_key}"


class AnomalyAction(models.Model):
    """What was done about anomalies, by whom (the audit record until the audit trail exists)."""

    actor = models.CharField(max_length=150, help_text='"anomaly-detector" or a username.')
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "security"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target}"
