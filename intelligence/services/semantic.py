"""Embedding backfill and semantic patterns for free-form traffic (off the request path).

Each request with a stored prompt gets an embedding. Requests whose template
pattern is still a one-off (free-form prompts no template explains) are then
clustered by meaning, leader-style: a prompt joins the semantic pattern of its
nearest neighbour when their cosine similarity reaches `CLUSTER_THRESHOLD`,
or founds one with that neighbour. A neighbour at `DUPLICATE_THRESHOLD` or more
is a near-duplicate and is recorded as such. Running the job twice embeds
nothing twice (one embedding per request).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator

from django.db import transaction

from intelligence.models import Pattern, PromptEmbedding, RequestInsight, Template
from intelligence.selectors import similar_prompts
from intelligence.services.embeddings import _STOP, _WORD, embed, prompt_for_embedding

CLUSTER_THRESHOLD = 0.45
DUPLICATE_THRESHOLD = 0.95
FREE_FORM_EXAMPLES = 1  # a template that matched only this many prompts explains nothing
TIME_BUDGET_SECONDS = 120.0  # one run's share of the worker (django-q2 kills tasks at 300 s)


def top_terms(texts: list[str], limit: int = 5) -> str:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2})
    return " ".join(word for word, _ in counts.most_common(limit)) or "(free-form)"


def _is_free_form(insight: RequestInsight) -> bool:
    if insight.pattern_id is None or insight.template_id is None:
        return True
    template = Template.objects.filter(pk=insight.template_id).only("examples").first()
    return template is None or template.examples <= FREE_FORM_EXAMPLES


def _joinable(neighbour: PromptEmbedding) -> bool:
    """A neighbour in a semantic pattern, or itself free-form (never one a template explains)."""
    if neighbour.pattern is not None and neighbour.pattern.kind == Pattern.Kind.SEMANTIC:
        return True
    insight = RequestInsight.objects.filter(log_id=neighbour.log_id).first()
    return insight is None or _is_free_form(insight)


def _with_bodies(pks: list[str], chunk: int = 200) -> Iterator[RequestInsight]:
    """The insights with their logs' bodies, 200 at a time (not thousands of bodies at once)."""
    for start in range(0, len(pks), chunk):
        rows = RequestInsight.objects.filter(pk__in=pks[start : start + chunk])
        yield from rows.select_related("log__body").order_by("created_at")


def embed_and_cluster(*, limit: int = 2000, seconds: float = TIME_BUDGET_SECONDS) -> dict[str, int]:
    """Embed requests that have none yet; cluster the free-form ones. Returns counts.

    Stops after `seconds` (each embedding is committed as it is made, so the next run
    goes on from there): without pgvector a search costs time in proportion to the
    stored embeddings, and a run that outlived django-q2's task timeout was killed
    and its worker replaced, over and over.
    """
    wanted = list(
        RequestInsight.objects.filter(log__embedding__isnull=True, namespace__isnull=False)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    report = {"embedded": 0, "clustered": 0, "near_duplicates": 0, "semantic_patterns": 0}
    stop_at = time.monotonic() + seconds
    for insight in _with_bodies(wanted):
        if time.monotonic() > stop_at:
            report["stopped_early"] = 1
            break
        body = getattr(insight.log, "body", None)
        request = body.request if body is not None else None
        if not isinstance(request, dict):
            continue
        text = prompt_for_embedding(request)
        if not text.strip():
            continue
        assert insight.namespace_id is not None
        vector = embed(text)
        neighbours = similar_prompts(namespace_id=insight.namespace_id, vector=vector, limit=1)
        with transaction.atomic():
            embedding, created = PromptEmbedding.objects.get_or_create(
                log_id=insight.log_id,
                defaults={
                    "namespace_id": insight.namespace_id,
                    "pattern_id": insight.pattern_id,
                    "vector": vector.tolist(),
                },
            )
            if not created:
                continue
            report["embedded"] += 1
            if not neighbours:
                continue
            neighbour, similarity = neighbours[0]
            if similarity >= DUPLICATE_THRESHOLD:
                report["near_duplicates"] += 1
                RequestInsight.objects.filter(pk=insight.pk).update(
                    near_duplicate_of=neighbour.log_id
                )
            if similarity < CLUSTER_THRESHOLD or not _is_free_form(insight):
                continue
            if not _joinable(neighbour):
                continue
            pattern = _semantic_pattern_of(neighbour, insight.namespace_id, [text], report)
            RequestInsight.objects.filter(pk=insight.pk).update(pattern=pattern, template=None)
            PromptEmbedding.objects.filter(pk=embedding.pk).update(pattern=pattern)
            report["clustered"] += 1
    return report


def _semantic_pattern_of(
    neighbour: PromptEmbedding, namespace_id: int, texts: list[str], report: dict[str, int]
) -> Pattern:
    current = neighbour.pattern
    if current is not None and current.kind == Pattern.Kind.SEMANTIC:
        return current
    body = getattr(neighbour.log, "body", None)
    if body is not None and isinstance(body.request, dict):
        texts = [*texts, prompt_for_embedding(body.request)]
    pattern = Pattern.objects.create(
        namespace_id=namespace_id,
        kind=Pattern.Kind.SEMANTIC,
        fingerprint=hashlib.sha1(f"semantic:{neighbour.log_id}".encode()).hexdigest(),
        name=top_terms(texts),
    )
    report["semantic_patterns"] += 1
    RequestInsight.objects.filter(log_id=neighbour.log_id).update(pattern=pattern, template=None)
    PromptEmbedding.objects.filter(pk=neighbour.pk).update(pattern=pattern)
    return pattern
