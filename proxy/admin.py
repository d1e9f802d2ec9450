"""Admin for namespaces, keys, providers, routes and the request log.

The admin edits configuration and calls services; it holds no logic.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html

from proxy.models import (
    ApiKey,
    Namespace,
    Provider,
    RequestBody,
    RequestLog,
    Route,
    RouteTarget,
    Session,
)
from proxy.selectors import spend_against_budget
from proxy.services.keys import api_key_create, api_key_revoke, api_key_set_state
from security.services.audit_hooks import AuditedAdmin, actor_of

LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute", "budget_usd", "budget_period")
LIMITS_HELP = "Empty fields mean no limit. A key's limits apply on top of its namespace's."


class PriceUnknownFilter(admin.SimpleListFilter):
    title = "price"
    parameter_name = "price"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("unknown", "Price unknown"), ("known", "Priced")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        answered = queryset.filter(status_code__lt=400)
        if self.value() == "unknown":
            return answered.filter(cost_usd__isnull=True)
        if self.value() == "known":
            return queryset.filter(cost_usd__isnull=False)
        return queryset


class FixedChoicesFilter(admin.SimpleListFilter):
    """A filter over known values, without a `SELECT DISTINCT` over the log."""

    fixed_choices: tuple[tuple[str, str], ...] = ()

    def lookups(self, request: HttpRequest, model_admin: Any) -> tuple[tuple[str, str], ...]:
        return self.fixed_choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{str(self.parameter_name): value}) if value else queryset


class StatusFilter(FixedChoicesFilter):
    title = "status"
    parameter_name = "status_code"
    fixed_choices = tuple(
        (str(code), str(code))
        for code in (200, 400, 401, 403, 404, 413, 429, 499, 500, 502, 503, 504)
    )


class ApiFormatFilter(FixedChoicesFilter):
    title = "caller API"
    parameter_name = "api_format"
    fixed_choices = (("openai", "OpenAI"), ("anthropic", "Anthropic"))


class EndpointFilter(FixedChoicesFilter):
    title = "endpoint"
    parameter_name = "endpoint"
    fixed_choices = (
        ("chat", "chat"),
        ("messages", "messages"),
        ("embeddings", "embeddings"),
        ("count_tokens", "count_tokens"),
    )


class CappedCountPaginator(Paginator):
    """Counts at most `CAP` rows: an exact COUNT(*) over millions of log rows takes seconds."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return int(cast(QuerySet[Any], self.object_list)[: self.CAP].count())


class NamespaceForm(forms.ModelForm):
    class Meta:
        model = Namespace
        fields = ("name", "description", "log_retention_days", *LIMIT_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "log_retention_days" in self.fields:
            self.fields["log_retention_days"].required = False

    def clean_log_retention_days(self) -> int:
        """Left empty: the deployment's default (`LOG_RETENTION_DAYS`)."""
        value = self.cleaned_data.get("log_retention_days")
        return int(settings.LOG_RETENTION_DAYS if value is None else value)


@admin.register(Namespace)
class NamespaceAdmin(AuditedAdmin):
    form = NamespaceForm
    list_display = ("name", "description", "requests_per_minute", "tokens_per_minute", "spend")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "description", "log_retention_days")}),
        ("Rate limits and budget", {"fields": LIMIT_FIELDS, "description": LIMITS_HELP}),
    )

    @admin.display(description="Spend against budget")
    def spend(self, obj: Namespace) -> str:
        return spend_against_budget("namespace", obj)


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdmin):
    list_display = ("name", "namespace", "prefix", "state", "expires_at", "spend", "created_at")
    list_filter = ("state", "namespace")
    search_fields = ("name", "prefix", "namespace__name")
    readonly_fields = ("prefix", "created_at", "revoked_at", "spend")
    fieldsets = (
        (
            None,
            {"fields": ("namespace", "name", "state", "allowed_models", "expires_at")},
        ),
        (
            "Rate limits and budget",
            {"fields": (*LIMIT_FIELDS, "spend"), "description": LIMITS_HELP},
        ),
        ("History", {"fields": ("prefix", "created_at", "revoked_at")}),
    )
    actions = ("suspend", "reactivate", "revoke")

    @admin.display(description="Spend against budget")
    def spend(self, obj: ApiKey) -> str:
        return spend_against_budget("key", obj) if obj.pk else ""

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = api_key_create(
            namespace=obj.namespace,
            name=obj.name,
            allowed_models=obj.allowed_models,
            expires_at=obj.expires_at,
            requests_per_minute=obj.requests_per_minute,
            tokens_per_minute=obj.tokens_per_minute,
            budget_usd=obj.budget_usd,
            budget_period=obj.budget_period,
            actor=actor_of(request),
        )
        obj.pk, obj.prefix, obj.key_hash = issued.key.pk, issued.key.prefix, issued.key.key_hash
        obj.created_at = issued.key.created_at
        messages.warning(
            request,
            format_html(
                "The new key is shown once; copy it now: <code class='llmproxy-new-key'>{}</code>",
                issued.secret,
            ),
        )

    @admin.action(description="Suspend selected keys")
    def suspend(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_set_state(key=key, state=ApiKey.State.SUSPENDED, actor=actor_of(request))

    @admin.action(description="Re-activate selected keys")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.exclude(state=ApiKey.State.REVOKED):
            api_key_set_state(key=key, state=ApiKey.State.ACTIVE, actor=actor_of(request))

    @admin.action(description="Revoke selected keys (final)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key=key, actor=actor_of(request))


class ProviderForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; never shown again. Leave empty to keep the current key.",
    )

    class Meta:
        model = Provider
        fields = (
            "name",
            "kind",
            "base_url",
            "allow_private_network",
            "api_key",
            "is_default",
            "enabled",
            "timeout_seconds",
            "extra_headers",
            "model_names",
        )


@admin.register(Provider)
class ProviderAdmin(AuditedAdmin):
    form = ProviderForm
    list_display = ("name", "kind", "base_url", "api_key_hint", "is_default", "enabled")
    list_filter = ("kind", "enabled")
    readonly_fields = ("api_key_hint", "api_key_env", "from_environment")

    def save_model(self, request: HttpRequest, obj: Provider, form: Any, change: bool) -> None:
        if form.cleaned_data.get("api_key"):
            obj.set_api_key(form.cleaned_data["api_key"])
            obj.api_key_env = ""  # typed in: no longer the config file's `env:` reference
        super().save_model(request, obj, form, change)


class RouteTargetInline(admin.TabularInline):
    model = RouteTarget
    extra = 1


@admin.register(Route)
class RouteAdmin(AuditedAdmin):
    list_display = (
        "alias",
        "namespace",
        "strategy",
        "enabled",
        "cache_enabled",
        "input_usd_per_mtok",
    )
    list_filter = ("strategy", "enabled", "cache_enabled", "namespace")
    search_fields = ("alias",)
    inlines = (RouteTargetInline,)
    fieldsets = (
        (None, {"fields": ("namespace", "alias", "strategy", "enabled")}),
        (
            "Price override (USD per million tokens)",
            {
                "fields": (
                    "input_usd_per_mtok",
                    "output_usd_per_mtok",
                    "cache_read_usd_per_mtok",
                    "cache_write_usd_per_mtok",
                ),
                "description": "With input and output set, these replace genai-prices for "
                "this route; empty cache prices fall back to the input price.",
            },
        ),
    )


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("session_id", "namespace", "request_count", "first_seen", "last_seen")
    list_filter = ("namespace",)
    search_fields = ("session_id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RequestBodyInline(admin.StackedInline):
    model = RequestBody
    can_delete = False
    readonly_fields = ("request", "response", "response_text", "truncated")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "namespace",
        "requested_model",
        "provider",
        "status_code",
        "stream",
        "latency_ms",
        "overhead_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
    )
    # Filters with fixed choices: a "distinct values" filter or a date hierarchy would scan
    # the whole table on every page view (seconds at ten million rows).
    list_filter = (
        PriceUnknownFilter,
        StatusFilter,
        "stream",
        ApiFormatFilter,
        EndpointFilter,
        "namespace",
        "created_at",
    )
    search_fields = ("id", "session_id", "requested_model", "resolved_model")
    search_help_text = "An exact request id or session id, or part of a model name."
    inlines = (RequestBodyInline,)
    list_select_related = ("namespace",)
    show_full_result_count = False
    paginator = CappedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = (
            Q(id=term)
            | Q(session_id=term)
            | Q(requested_model__icontains=term)
            | Q(resolved_model__icontains=term)
        )
        return queryset.filter(matches), False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in RequestLog._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.method in ("GET", "HEAD")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
