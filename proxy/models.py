"""The gateway's configuration (namespaces, keys, providers, routes) and its request log."""

from __future__ import annotations

import hashlib
import uuid

from django.db import models
from django.utils import timezone

from proxy.crypto import decrypt, encrypt

KEY_PREFIX = "lp-"


class Limits(models.Model):
    """Rate limits and a budget; empty fields mean "no limit". See docs/routing-and-limits.md."""

    class Period(models.TextChoices):
        DAY = "day"
        MONTH = "month"
        TOTAL = "total"

    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Prompt and completion tokens together."
    )
    budget_usd = models.DecimalField(
        "budget (USD)", max_digits=16, decimal_places=8, null=True, blank=True
    )
    budget_period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)

    class Meta:
        abstract = True


def _default_retention_days() -> int:
    from django.conf import settings

    return int(settings.LOG_RETENTION_DAYS)


class Namespace(Limits):
    """A team, app or customer. Owns keys, routes, rate limits and a budget."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    log_retention_days = models.PositiveIntegerField(
        default=_default_retention_days,
        help_text="Request logs older than this are deleted by the retention job; 0 keeps them.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def usable(self) -> ApiKeyQuerySet:
        return self.exclude(state=ApiKey.State.REVOKED)


class ApiKey(Limits):
    """A virtual key. Only its SHA-256 is stored; the key itself is shown once.

    Its own limits and budget apply on top of its namespace's.
    """

    class State(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"
        REVOKED = "revoked"

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    allowed_models = models.JSONField(
        default=list, blank=True, help_text="Model names or route aliases; empty allows all."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["namespace__name", "name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.namespace.name}/{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def effective_state(self) -> str:
        if self.state == self.State.ACTIVE and self.is_expired:
            return "expired"
        return self.state


class Provider(models.Model):
    """An upstream: OpenAI, OpenRouter, Anthropic, or any OpenAI-compatible server."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic"

    name = models.SlugField(max_length=64, unique=True, help_text="Used as `name/model`.")
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.OPENAI)
    base_url = models.URLField(max_length=500)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_key_hint = models.CharField(max_length=16, blank=True, editable=False)
    is_default = models.BooleanField(
        default=False, help_text="Serves model names that match no route and no provider prefix."
    )
    enabled = models.BooleanField(default=True)
    timeout_seconds = models.FloatField(null=True, blank=True)
    extra_headers = models.JSONField(default=dict, blank=True)
    model_names = models.JSONField(
        default=list, blank=True, help_text="Model names listed by GET /v1/models."
    )
    from_environment = models.BooleanField(default=False, editable=False)
    allow_private_network = models.BooleanField(
        default=False,
        help_text=(
            "Allow a base URL on a private, loopback or link-local address (a local model"
            " server). Off: such URLs are refused (SSRF guard)."
        ),
    )
    api_key_env = models.CharField(
        max_length=128,
        blank=True,
        help_text="The environment variable the API key was read from (config files), if any.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The SSRF guard: every address the base URL's host resolves to must be public."""
        from django.conf import settings
        from django.core.exceptions import ValidationError

        from proxy.address_guard import PrivateAddressError, check_url

        if self.allow_private_network or not settings.UPSTREAM_PRIVATE_NETWORK_GUARD:
            return
        if not self.base_url:
            return
        try:
            check_url(self.base_url)
        except PrivateAddressError as exc:
            raise ValidationError(
                {
                    "base_url": f"{exc} Tick “allow private network” if this is intended.",
                }
            ) from exc

    def set_api_key(self, secret: str) -> None:
        self.api_key_encrypted = encrypt(secret) if secret else ""
        self.api_key_hint = f"…{secret[-4:]}" if len(secret) >= 8 else ("set" if secret else "")

    def get_api_key(self) -> str:
        return decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""


class Route(models.Model):
    """A model alias. Its targets are tried according to the strategy."""

    class Strategy(models.TextChoices):
        SINGLE = "single"
        WEIGHTED = "weighted", "Weighted load balance"
        FALLBACK = "fallback"

    namespace = models.ForeignKey(
        Namespace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="routes",
        help_text="Empty: the route is visible to every namespace.",
    )
    alias = models.CharField(max_length=200)
    strategy = models.CharField(max_length=16, choices=Strategy.choices, default=Strategy.SINGLE)
    enabled = models.BooleanField(default=True)
    cache_enabled = models.BooleanField(
        default=False, help_text="Answer repeated identical requests from the response cache."
    )
    cache_ttl_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: RESPONSE_CACHE_DEFAULT_TTL_SECONDS."
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Price overrides (USD per million tokens). With input and output set, they replace
    # genai-prices for this route; empty cache prices fall back to the input price.
    input_usd_per_mtok = models.DecimalField(
        "input price (USD/M tokens)", max_digits=12, decimal_places=6, null=True, blank=True
    )
    output_usd_per_mtok = models.DecimalField(
        "output price (USD/M tokens)", max_digits=12, decimal_places=6, null=True, blank=True
    )
    cache_read_usd_per_mtok = models.DecimalField(
        "cache read price (USD/M tokens)", max_digits=12, decimal_places=6, null=True, blank=True
    )
    cache_write_usd_per_mtok = models.DecimalField(
        "cache write price (USD/M tokens)", max_digits=12, decimal_places=6, null=True, blank=True
    )

    class Meta:
        ordering = ["alias"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "alias"], name="route_alias_per_namespace"
            ),
            models.UniqueConstraint(
                fields=["alias"],
                condition=models.Q(namespace__isnull=True),
                name="global_route_alias",
            ),
        ]

    def __str__(self) -> str:
        return self.alias if self.namespace_id is None else f"{self.namespace}:{self.alias}"


class RouteTarget(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="targets")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="targets")
    model = models.CharField(max_length=200, help_text="The model name the provider expects.")
    weight = models.PositiveIntegerField(default=1)
    priority = models.PositiveIntegerField(default=0, help_text="Lower is tried first.")
    timeout_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.provider.name}/{self.model}"


class Session(models.Model):
    """Requests grouped by `x-session-id`, `metadata.session_id`, `metadata.user_id` or `user`."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="sessions")
    session_id = models.CharField(max_length=200)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    request_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "session_id"], name="session_per_namespace"
            )
        ]

    def __str__(self) -> str:
        return self.session_id


def _new_request_id() -> str:
    return uuid.uuid4().hex


class RequestLog(models.Model):
    """One record per request, written off the request path in batches."""

    id = models.CharField(primary_key=True, max_length=32, default=_new_request_id)
    created_at = models.DateTimeField(db_index=True)
    namespace = models.ForeignKey(
        Namespace, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    session_id = models.CharField(max_length=200, blank=True, db_index=True)
    endpoint = models.CharField(max_length=32)
    api_format = models.CharField(max_length=16, help_text="The caller's API: openai or anthropic.")
    stream = models.BooleanField(default=False)
    requested_model = models.CharField(max_length=200, blank=True)
    resolved_model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=64, blank=True)
    route = models.CharField(max_length=200, blank=True)
    status_code = models.PositiveSmallIntegerField()
    error_type = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    client_disconnected = models.BooleanField(default=False)
    latency_ms = models.FloatField()
    upstream_ms = models.FloatField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True, help_text="Time to first token (streams).")
    overhead_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    cache_write_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True, help_text="Empty: price unknown."
    )
    attempts = models.JSONField(default=list, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    annotations = models.JSONField(
        default=dict, blank=True, help_text="What later stages add: security, pattern, rules."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["namespace", "-created_at"], name="log_ns_created"),
            models.Index(fields=["api_key", "-created_at"], name="log_key_created"),
            models.Index(fields=["status_code", "-created_at"], name="log_status_created"),
            models.Index(fields=["requested_model", "-created_at"], name="log_model_created"),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


class RequestBody(models.Model):
    """Bodies kept apart from the hot metadata, as `LOG_BODIES` says."""

    log = models.OneToOneField(
        RequestLog, on_delete=models.CASCADE, primary_key=True, related_name="body"
    )
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    response_text = models.TextField(
        blank=True, help_text="Assembled output of a stream, partial when it was cut."
    )
    truncated = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.log_id


class ConfigVersion(models.Model):
    """A single row whose number changes whenever configuration changes."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.version)
