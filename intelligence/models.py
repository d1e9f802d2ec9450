"""What the gateway learns from its traffic: patterns, their template versions,
per-request insights, feedback, statistics, categories and embeddings.

Identifiers meant to be used by other apps (rules, experiments):
- `Pattern.id` (stable: versions of a template keep their pattern) and
  `Pattern.fingerprint` (stable across databases: a hash of the first template);
- `Template.variables` (the slots a rule may rewrite, in order: `var1`, `var2`, ...).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from pgvector.django import VectorField

from proxy.models import Namespace, RequestLog, Route

EMBEDDING_DIMENSIONS = 256


class Category(models.Model):
    """A kind of task (coding, translation, ...) named by an admin."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Pattern(models.Model):
    class Kind(models.TextChoices):
        TEMPLATE = "template", "Prompt template"
        SEMANTIC = "semantic", "Semantic cluster"

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="patterns")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEMPLATE)
    fingerprint = models.CharField(max_length=40, unique=True, editable=False)
    name = models.CharField(max_length=200, blank=True, help_text="Its top terms, or a name.")
    category = models.ForeignKey(
        Category,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patterns",
        help_text="Labelled by an admin; used as training data for the classifier.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Summary of all time, kept by the statistics rollup (see PatternStat for the series).
    requests = models.PositiveIntegerField(default=0)
    success_rate = models.FloatField(null=True, blank=True)
    error_rate = models.FloatField(null=True, blank=True)
    truncation_rate = models.FloatField(null=True, blank=True)
    refusal_rate = models.FloatField(null=True, blank=True)
    feedback_score = models.FloatField(null=True, blank=True)
    avg_latency_ms = models.FloatField(null=True, blank=True)
    avg_tokens = models.FloatField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    trend = models.FloatField(
        null=True, blank=True, help_text="Volume of the last 24 h over the 24 h before (1 = flat)."
    )

    class Meta:
        ordering = ["-requests", "id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"[:120]

    @property
    def current_template(self) -> Template | None:
        return self.versions.order_by("-version").first()


class Template(models.Model):
    """One version of a pattern's template; `tokens` has `<*>` gaps and masked data."""

    pattern = models.ForeignKey(Pattern, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(default=1)
    tokens = models.JSONField(default=list)
    text = models.TextField(blank=True)
    variables = models.JSONField(default=list, blank=True)
    examples = models.PositiveIntegerField(default=0, help_text="Prompts it has matched.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pattern_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["pattern", "version"], name="template_version")
        ]

    def __str__(self) -> str:
        return f"#{self.pattern_id} v{self.version}"


class RequestInsight(models.Model):
    """What was learned about one logged request: its pattern and its outcome."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        ERROR = "error"
        TRUNCATED = "truncated"
        REFUSED = "refused"
        INVALID_JSON = "invalid_json"

    log = models.OneToOneField(
        RequestLog, on_delete=models.CASCADE, primary_key=True, related_name="insight"
    )
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, null=True, related_name="+")
    created_at = models.DateTimeField(db_index=True)
    session_id = models.CharField(max_length=200, blank=True)
    pattern = models.ForeignKey(
        Pattern, on_delete=models.SET_NULL, null=True, blank=True, related_name="insights"
    )
    template = models.ForeignKey(
        Template, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    category_confidence = models.FloatField(null=True, blank=True)
    prompt_hash = models.CharField(max_length=40, blank=True, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    refused = models.BooleanField(default=False)
    truncated = models.BooleanField(default=False)
    errored = models.BooleanField(default=False)
    json_valid = models.BooleanField(null=True, blank=True)
    retried = models.BooleanField(default=False, help_text="The same prompt came again soon.")
    near_duplicate_of = models.CharField(
        max_length=32, blank=True, help_text="An earlier request with a near-identical prompt."
    )
    feedback_score = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pattern", "created_at"], name="insight_pattern_time")]

    def __str__(self) -> str:
        return self.log_id

    @property
    def succeeded(self) -> bool:
        """Success: a good outcome, not retried, and no negative feedback."""
        if self.outcome != self.Outcome.SUCCESS or self.retried:
            return False
        return self.feedback_score is None or self.feedback_score >= 0.5


class Feedback(models.Model):
    class Source(models.TextChoices):
        API = "api"
        HEADER = "header"

    log = models.ForeignKey(RequestLog, on_delete=models.CASCADE, related_name="feedback")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    carrier = models.CharField(
        max_length=32, blank=True, help_text="The later request whose header carried it."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["log", "carrier"],
                condition=~models.Q(carrier=""),
                name="feedback_once_per_carrier",
            )
        ]

    def __str__(self) -> str:
        return f"{self.log_id}: {self.score}"


class PatternStat(models.Model):
    """A pattern's numbers over one hour; recomputed whole by the rollup (idempotent)."""

    pattern = models.ForeignKey(Pattern, on_delete=models.CASCADE, related_name="stats")
    hour = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    truncations = models.PositiveIntegerField(default=0)
    refusals = models.PositiveIntegerField(default=0)
    invalid_json = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    feedback_count = models.PositiveIntegerField(default=0)
    feedback_sum = models.FloatField(default=0)
    latency_ms_sum = models.FloatField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [models.UniqueConstraint(fields=["pattern", "hour"], name="stat_per_hour")]

    def __str__(self) -> str:
        return f"#{self.pattern_id} {self.hour:%Y-%m-%d %H:00}"

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.requests if self.requests else None


class LabelledExample(models.Model):
    """Training data for the category classifier."""

    text = models.TextField()
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="examples")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "id"]

    def __str__(self) -> str:
        return f"{self.category}: {self.text[:60]}"


class ClassifierState(models.Model):
    """The trained category classifier (one row per name; `default` is used)."""

    name = models.SlugField(max_length=64, unique=True, default="default")
    labels = models.JSONField(default=list)
    parameters = models.JSONField(default=dict, help_text="Log-probabilities, base64 float32.")
    examples = models.PositiveIntegerField(default=0)
    trained_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class EmbeddingField(VectorField):
    """pgvector's `vector` on PostgreSQL; the same text form (`[1,2,...]`) elsewhere."""

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "postgresql":
            return super().db_type(connection)
        return "text"


class PromptEmbedding(models.Model):
    """A prompt's embedding (the hashing embedder; see docs/patterns.md)."""

    log = models.OneToOneField(
        RequestLog, on_delete=models.CASCADE, primary_key=True, related_name="embedding"
    )
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="+")
    pattern = models.ForeignKey(
        Pattern, on_delete=models.SET_NULL, null=True, blank=True, related_name="embeddings"
    )
    vector = EmbeddingField(dimensions=EMBEDDING_DIMENSIONS)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.log_id


class SemanticCacheSetting(models.Model):
    """Opt-in semantic cache for one route."""

    route = models.OneToOneField(Route, on_delete=models.CASCADE, related_name="semantic_cache")
    enabled = models.BooleanField(default=True)
    threshold = models.FloatField(
        default=0.9, help_text="Cosine similarity a cached prompt must reach (0-1)."
    )
    allow_tools = models.BooleanField(default=False)
    ttl_seconds = models.PositiveIntegerField(default=86400)
    max_entries = models.PositiveIntegerField(default=5000)

    def __str__(self) -> str:
        return f"semantic cache: {self.route}"


class SemanticCacheEntry(models.Model):
    """A cached answer: one single-turn prompt and the response it got."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="+")
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=200)
    system_hash = models.CharField(max_length=40)
    prompt = models.TextField()
    vector = EmbeddingField(dimensions=EMBEDDING_DIMENSIONS)
    response = models.JSONField()
    source_request = models.CharField(max_length=32)
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.prompt[:60]
