"""Enhancements: transformation rules, experiments, Claude's suggestions, and the
local decision log (used until the security app's hash-chained audit trail exists).

Imported at the end of `intelligence/models.py`, so Django sees these models as
part of the `intelligence` app. The JSON fields have typed accessors in
`intelligence/rules/` (`compile_conditions`, `compile_operations`), which the admin
uses to validate what is typed in.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from proxy.models import Namespace


class Rule(models.Model):
    """Conditions → operations, applied in `order` to matching live requests when enabled."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    namespace = models.ForeignKey(
        Namespace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rules",
        help_text="Only requests of this namespace (blank: every namespace).",
    )
    enabled = models.BooleanField(default=False)
    order = models.IntegerField(default=100, help_text="Lower runs first.")
    version = models.PositiveIntegerField(default=1, editable=False)
    conditions = models.JSONField(
        default=dict,
        blank=True,
        help_text='e.g. {"model": ["gpt-4o*"], "pattern": [3], "prompt_regex": "invoice"}',
    )
    operations = models.JSONField(
        default=list,
        help_text='e.g. [{"op": "system_append", "text": "Answer in JSON."}]',
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class RuleRevision(models.Model):
    """Every saved version of a rule, for history and rollback."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    conditions = models.JSONField(default=dict)
    operations = models.JSONField(default=list)
    enabled = models.BooleanField(default=False)
    actor = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rule_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_revision_version")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        RUNNING = "running"
        DECIDED = "decided", "Decided, waiting for approval"
        PROMOTED = "promoted"
        ROLLED_BACK = "rolled_back", "Rolled back"
        STOPPED = "stopped"

    class Mode(models.TextChoices):
        AUTO = "auto", "Apply the decision automatically"
        APPROVAL = "approval", "Wait for an admin to apply it"

    name = models.CharField(max_length=120)
    namespace = models.ForeignKey(
        Namespace, on_delete=models.CASCADE, null=True, blank=True, related_name="experiments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.APPROVAL)
    conditions = models.JSONField(
        default=dict, blank=True, help_text="Which requests take part (rule conditions)."
    )
    holdout_percent = models.FloatField(
        default=0.0, help_text="Share of units (0-50) kept out of every arm and every rule."
    )
    alpha = models.FloatField(default=0.05, help_text="Error rate of the decision (two-sided).")
    max_samples_per_arm = models.PositiveIntegerField(
        default=6000, help_text="Stop without a winner (and keep control) after this many."
    )
    min_samples_per_arm = models.PositiveIntegerField(default=200)
    guardrail_error_rate_increase = models.FloatField(
        default=0.02, help_text="Stop an arm whose error rate is surely this much higher."
    )
    guardrail_cost_increase = models.FloatField(
        default=0.5, help_text="Stop an arm whose mean cost is surely this fraction higher."
    )
    recommendation = models.CharField(max_length=16, blank=True)
    recommended_arm = models.ForeignKey(
        "ExperimentArm", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    promoted_rule = models.ForeignKey(
        Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} ({self.status})"


class ExperimentArm(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    name = models.SlugField(max_length=40)
    is_control = models.BooleanField(default=False)
    weight = models.PositiveIntegerField(default=1)
    operations = models.JSONField(default=list, blank=True, help_text="Rule operations.")
    source_rule = models.ForeignKey(
        Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stopped = models.BooleanField(default=False, help_text="Stopped by a guardrail.")
    stop_reason = models.TextField(blank=True)
    # Metrics, recomputed whole by the aggregation job.
    samples = models.PositiveIntegerField(default=0)
    units = models.PositiveIntegerField(default=0, help_text="Sessions (else keys) seen.")
    success_variance = models.FloatField(
        null=True, blank=True, help_text="Of the success rate, clustered by unit."
    )
    error_variance = models.FloatField(null=True, blank=True)
    successes = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    feedback_count = models.PositiveIntegerField(default=0)
    feedback_sum = models.FloatField(default=0)
    feedback_sq = models.FloatField(default=0)
    judge_count = models.PositiveIntegerField(default=0)
    judge_sum = models.FloatField(default=0)
    judge_sq = models.FloatField(default=0)
    latency_ms_sum = models.FloatField(default=0)
    latency_ms_sq = models.FloatField(default=0)
    tokens_sum = models.FloatField(default=0)
    tokens_sq = models.FloatField(default=0)
    cost_sum = models.FloatField(default=0)
    cost_sq = models.FloatField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["experiment_id", "-is_control", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="arm_name_per_experiment")
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.name}"


class Suggestion(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    pattern = models.ForeignKey(
        "intelligence.Pattern", on_delete=models.CASCADE, related_name="suggestions"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=200, help_text="Why the pattern was picked.")
    rationale = models.TextField(help_text="Claude's explanation.")
    rule = models.JSONField(help_text="The proposed rule: conditions and operations.")
    model = models.CharField(max_length=120)
    sent_prompt = models.TextField(help_text="Exactly what was sent (after redaction).")
    created_rule = models.ForeignKey(
        Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_experiment = models.ForeignKey(
        Experiment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} for pattern {self.pattern_id} ({self.status})"


class JudgeScore(models.Model):
    """Claude's score of one sampled answer's quality (the optional LLM judge)."""

    log = models.OneToOneField(
        "proxy.RequestLog", on_delete=models.CASCADE, primary_key=True, related_name="judge"
    )
    score = models.FloatField(help_text="0 (useless) to 1 (excellent).")
    reason = models.TextField(blank=True)
    model = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.log_id}: {self.score:.2f}"


class DecisionRecord(models.Model):
    """The local record of a decision, written only when `security`'s audit trail is absent."""

    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200)
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.target}"
