"""Admin for patterns (with their versions and statistics), categories, feedback and
the semantic cache settings. It edits and displays; the services do the work."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join

from intelligence.models import (
    Category,
    ClassifierState,
    Feedback,
    LabelledExample,
    Pattern,
    PatternStat,
    RequestInsight,
    SemanticCacheEntry,
    SemanticCacheSetting,
    Template,
)
from security.services.audit_hooks import AuditedAdmin


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


class TemplateInline(admin.TabularInline):
    model = Template
    extra = 0
    fields = ("version", "text", "variables", "examples", "updated_at")
    readonly_fields = fields
    can_delete = False
    ordering = ("-version",)


class PatternStatInline(admin.TabularInline):
    model = PatternStat
    extra = 0
    fields = (
        "hour",
        "requests",
        "successes",
        "errors",
        "truncations",
        "refusals",
        "invalid_json",
        "retries",
        "feedback_count",
        "cost_usd",
    )
    readonly_fields = fields
    can_delete = False
    ordering = ("-hour",)
    max_num = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[PatternStat]:
        return super().get_queryset(request).order_by("-hour")


@admin.register(Pattern)
class PatternAdmin(AuditedAdmin):
    list_display = (
        "id",
        "name",
        "kind",
        "namespace",
        "category",
        "requests",
        "success",
        "errors",
        "truncations",
        "refusals",
        "feedback",
        "avg_latency_ms",
        "cost_usd",
        "trend",
        "last_seen_at",
    )
    list_filter = ("kind", "namespace", "category")
    search_fields = ("name", "fingerprint", "versions__text")
    list_editable = ("category",)
    readonly_fields = (
        "example_requests",
        "fingerprint",
        "kind",
        "namespace",
        "created_at",
        "last_seen_at",
        "requests",
        "success_rate",
        "error_rate",
        "truncation_rate",
        "refusal_rate",
        "feedback_score",
        "avg_latency_ms",
        "avg_tokens",
        "cost_usd",
        "trend",
    )
    fields = ("name", "category", *readonly_fields)
    inlines = (TemplateInline, PatternStatInline)
    actions = ("recompute_statistics",)

    @admin.display(description="example requests")
    def example_requests(self, obj: Pattern) -> str:
        ids = RequestInsight.objects.filter(pattern=obj).values_list("log_id", flat=True)[:5]
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:proxy_requestlog_change", args=[i]), i[:12]) for i in ids),
        )

    @admin.display(description="success")
    def success(self, obj: Pattern) -> str:
        return _rate(obj.success_rate)

    @admin.display(description="errors")
    def errors(self, obj: Pattern) -> str:
        return _rate(obj.error_rate)

    @admin.display(description="truncated")
    def truncations(self, obj: Pattern) -> str:
        return _rate(obj.truncation_rate)

    @admin.display(description="refused")
    def refusals(self, obj: Pattern) -> str:
        return _rate(obj.refusal_rate)

    @admin.display(description="feedback")
    def feedback(self, obj: Pattern) -> str:
        return "–" if obj.feedback_score is None else f"{obj.feedback_score:.2f}"

    @admin.action(description="Recompute statistics of the selected patterns")
    def recompute_statistics(self, request: HttpRequest, queryset: QuerySet[Pattern]) -> None:
        from intelligence.services.stats import hour_of, rollup_hours

        ids = set(queryset.values_list("id", flat=True))
        hours = {
            hour_of(m)
            for m in RequestInsight.objects.filter(pattern_id__in=ids).values_list(
                "created_at", flat=True
            )
        }
        written = rollup_hours(ids, hours)
        messages.info(request, f"{written} hourly rows recomputed.")


@admin.register(RequestInsight)
class RequestInsightAdmin(admin.ModelAdmin):
    list_display = (
        "log",
        "created_at",
        "pattern",
        "category",
        "outcome",
        "retried",
        "feedback_score",
    )
    list_filter = ("outcome", "retried", "refused", "truncated", "category")
    search_fields = ("log__id", "session_id")
    raw_id_fields = ("log", "pattern", "template")
    readonly_fields = ("log", "namespace", "created_at", "prompt_hash", "near_duplicate_of")


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("log", "score", "source", "namespace", "created_at")
    list_filter = ("source", "namespace")
    readonly_fields = ("log", "namespace", "score", "comment", "source", "carrier", "created_at")


@admin.register(Category)
class CategoryAdmin(AuditedAdmin):
    list_display = ("name", "description")
    search_fields = ("name",)


@admin.register(LabelledExample)
class LabelledExampleAdmin(AuditedAdmin):
    list_display = ("category", "text")
    list_filter = ("category",)
    search_fields = ("text",)
    actions = ("train_classifier",)

    @admin.action(description="Train the classifier on all labelled examples")
    def train_classifier(self, request: HttpRequest, queryset: QuerySet[LabelledExample]) -> None:
        from intelligence.services.categories import classifier_train

        report = classifier_train()
        messages.info(
            request, f"Trained on {report.examples} examples, {len(report.categories)} categories."
        )


@admin.register(ClassifierState)
class ClassifierStateAdmin(admin.ModelAdmin):
    list_display = ("name", "labels", "examples", "trained_at")
    readonly_fields = ("name", "labels", "examples", "trained_at")
    exclude = ("parameters",)


@admin.register(SemanticCacheSetting)
class SemanticCacheSettingAdmin(AuditedAdmin):
    list_display = ("route", "enabled", "threshold", "allow_tools", "ttl_seconds", "max_entries")
    list_editable = ("enabled", "threshold")


@admin.register(SemanticCacheEntry)
class SemanticCacheEntryAdmin(admin.ModelAdmin):
    list_display = ("prompt", "route", "model", "hits", "created_at")
    list_filter = ("route",)
    search_fields = ("prompt",)
    exclude = ("vector",)
    readonly_fields = ("namespace", "route", "model", "system_hash", "prompt", "response")
