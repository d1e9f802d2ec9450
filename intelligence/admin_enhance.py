"""Admin for rules (the rule editor, with a preview), experiments, suggestions and the
local decision records. It validates and displays; the services decide and audit."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from intelligence.audit import actor_of
from intelligence.models import (
    DecisionRecord,
    Experiment,
    ExperimentArm,
    JudgeScore,
    Rule,
    RuleRevision,
    Suggestion,
)
from intelligence.rules.conditions import RuleError, compile_conditions
from intelligence.rules.operations import compile_operations
from intelligence.services import experiments, rules, suggestions
from intelligence.stats.sequential import mean_interval, wilson
from proxy.models import RequestLog


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = (
            "name",
            "description",
            "namespace",
            "enabled",
            "order",
            "conditions",
            "operations",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            rules.rule_validate(
                conditions=data.get("conditions"), operations=data.get("operations")
            )
        except RuleError as error:
            raise ValidationError(str(error)) from error
        return data


class RuleRevisionInline(admin.TabularInline):
    model = RuleRevision
    extra = 0
    fields = ("version", "enabled", "conditions", "operations", "actor", "created_at")
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = ("name", "enabled", "order", "version", "namespace", "updated_at", "preview")
    list_filter = ("enabled", "namespace")
    list_editable = ("order",)
    search_fields = ("name", "description")
    inlines = (RuleRevisionInline,)
    actions = ("enable", "disable", "start_experiment")

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        rules.rule_save(rule=obj, actor=actor_of(request.user))

    def delete_model(self, request: HttpRequest, obj: Rule) -> None:
        rules.rule_delete(rule=obj, actor=actor_of(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:
            rules.rule_delete(rule=rule, actor=actor_of(request.user))

    @admin.display(description="preview")
    def preview(self, obj: Rule) -> str:
        url = reverse("admin:intelligence_rule_preview", args=[obj.pk])
        return format_html('<a href="{}">preview</a>', url)

    @admin.action(description="Enable the selected rules")
    def enable(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:
            rules.rule_set_enabled(rule=rule, enabled=True, actor=actor_of(request.user))

    @admin.action(description="Disable the selected rules")
    def disable(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:
            rules.rule_set_enabled(rule=rule, enabled=False, actor=actor_of(request.user))

    @admin.action(description="Test the selected rules in an experiment (draft)")
    def start_experiment(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset:
            experiments.experiment_from_rule(rule=rule, actor=actor_of(request.user))
        self.message_user(request, "Draft experiments created; start them on the experiment page.")

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "<int:rule_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="intelligence_rule_preview",
            )
        ]
        return extra + super().get_urls()

    def preview_view(self, request: HttpRequest, rule_id: int) -> HttpResponse:
        """Apply the rule to a logged request (`?log=<id>`, else the latest) and show both."""
        rule = get_object_or_404(Rule, pk=rule_id)
        logs = RequestLog.objects.filter(endpoint__in=("chat", "messages")).order_by("-created_at")
        log = logs.filter(pk=request.GET["log"]).first() if request.GET.get("log") else None
        log = log or logs.filter(body__isnull=False).first()
        result = rules.rule_preview(rule=rule, log=log) if log is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {rule}",
            "rule": rule,
            "log": log,
            "recent": logs.values_list("id", "requested_model", "created_at")[:20],
            "result": result,
            "before": json.dumps(result.before, indent=2) if result else "",
            "after": json.dumps(result.after, indent=2) if result else "",
        }
        return TemplateResponse(request, "admin/intelligence/rule/preview.html", context)


class ArmForm(forms.ModelForm):
    class Meta:
        model = ExperimentArm
        fields = ("name", "is_control", "weight", "operations")

    def clean_operations(self) -> Any:
        operations = self.cleaned_data.get("operations") or []
        try:
            compile_operations(operations, allow_empty=True)
        except RuleError as error:
            raise ValidationError(str(error)) from error
        return operations


class ExperimentForm(forms.ModelForm):
    class Meta:
        model = Experiment
        fields = (
            "name",
            "namespace",
            "mode",
            "conditions",
            "holdout_percent",
            "alpha",
            "min_samples_per_arm",
            "max_samples_per_arm",
            "guardrail_error_rate_increase",
            "guardrail_cost_increase",
        )

    def clean_conditions(self) -> Any:
        conditions = self.cleaned_data.get("conditions") or {}
        try:
            compile_conditions(conditions)
        except RuleError as error:
            raise ValidationError(str(error)) from error
        return conditions


class ArmInline(admin.TabularInline):
    model = ExperimentArm
    form = ArmForm
    extra = 0
    fields = ("name", "is_control", "weight", "operations", "stopped", "metrics")
    readonly_fields = ("stopped", "metrics")

    @admin.display(description="metrics (95% CI)")
    def metrics(self, arm: ExperimentArm) -> str:
        return arm_summary(arm)


def arm_summary(arm: ExperimentArm) -> str:
    n = arm.samples
    if not n:
        return "no samples yet"
    success = wilson(arm.successes, n)
    errors = wilson(arm.errors, n)
    latency = mean_interval(arm.latency_ms_sum, arm.latency_ms_sq, n)
    cost = mean_interval(arm.cost_sum, arm.cost_sq, n)
    score = mean_interval(arm.feedback_sum, arm.feedback_sq, arm.feedback_count)
    feedback = (
        f"{score.estimate:.2f} [{score.low:.2f}, {score.high:.2f}]" if arm.feedback_count else "-"
    )
    return (
        f"n={n} success {success.estimate:.1%} [{success.low:.1%}, {success.high:.1%}] "
        f"errors {errors.estimate:.1%} [{errors.low:.1%}, {errors.high:.1%}] "
        f"latency {latency.estimate:.0f} ms [{latency.low:.0f}, {latency.high:.0f}] "
        f"cost ${cost.estimate:.6f} feedback {feedback}"
        + (f" judge {arm.judge_sum / arm.judge_count:.2f}" if arm.judge_count else "")
    )


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    list_display = ("name", "status", "mode", "recommendation", "started_at", "ended_at")
    list_filter = ("status", "mode")
    readonly_fields = (
        "status",
        "recommendation",
        "recommended_arm",
        "decision_reason",
        "promoted_rule",
        "started_at",
        "ended_at",
    )
    inlines = (ArmInline,)
    actions = ("start", "evaluate_now", "apply_decision", "stop")

    def _each(self, request: HttpRequest, queryset: QuerySet[Experiment], flow: Any) -> None:
        for experiment in queryset:
            try:
                flow(experiment=experiment, actor=actor_of(request.user))
            except ValueError as error:
                self.message_user(request, f"{experiment}: {error}", messages.ERROR)

    @admin.action(description="Start the selected experiments")
    def start(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, experiments.experiment_start)

    @admin.action(description="Measure and evaluate now")
    def evaluate_now(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset.filter(status="running"), experiments.experiment_evaluate)

    @admin.action(description="Apply the recommended decision (promote or roll back)")
    def apply_decision(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(
            request, queryset.filter(status="decided"), experiments.experiment_apply_decision
        )

    @admin.action(description="Stop the selected experiments")
    def stop(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        self._each(request, queryset, experiments.experiment_stop)


@admin.register(Suggestion)
class SuggestionAdmin(admin.ModelAdmin):
    list_display = ("id", "pattern", "status", "reason", "model", "created_at")
    list_filter = ("status",)
    readonly_fields = (
        "pattern",
        "status",
        "reason",
        "rationale",
        "rule",
        "model",
        "sent_prompt",
        "created_rule",
        "created_experiment",
        "decided_by",
        "decided_at",
        "created_at",
    )
    actions = ("approve_as_experiment", "approve_as_rule", "reject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def _each(self, request: HttpRequest, queryset: QuerySet[Suggestion], **kwargs: Any) -> None:
        for suggestion in queryset.filter(status=Suggestion.Status.PENDING):
            suggestions.suggestion_decide(
                suggestion=suggestion, actor=actor_of(request.user), **kwargs
            )

    @admin.action(description="Approve: test as an experiment arm (starts it)")
    def approve_as_experiment(self, request: HttpRequest, queryset: QuerySet[Suggestion]) -> None:
        self._each(request, queryset, approve=True, as_experiment=True)

    @admin.action(description="Approve: create an enabled rule")
    def approve_as_rule(self, request: HttpRequest, queryset: QuerySet[Suggestion]) -> None:
        self._each(request, queryset, approve=True, as_experiment=False)

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[Suggestion]) -> None:
        self._each(request, queryset, approve=False)


@admin.register(JudgeScore)
class JudgeScoreAdmin(admin.ModelAdmin):
    list_display = ("log", "score", "model", "created_at")
    readonly_fields = ("log", "score", "reason", "model", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(DecisionRecord)
class DecisionRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target")
    list_filter = ("action",)
    readonly_fields = ("created_at", "actor", "action", "target", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
