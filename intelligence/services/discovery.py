"""Discovery over stored traffic: templates, patterns and per-request insights.

`learn()` takes the chat requests logged since the last run (those without a
`RequestInsight`), feeds their prompts to each namespace's `TemplateMiner`,
stores new and changed templates, and records one insight per request (its
pattern and its success signals). Safe to run twice, or in two workers: a
request that already has an insight is skipped, and insights are created with
`ignore_conflicts`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from intelligence.models import Pattern, RequestInsight, Template
from intelligence.services.categories import categorize_insights
from intelligence.services.feedback import feedback_from_annotations
from intelligence.services.mining import Cluster, TemplateMiner
from intelligence.services.signals import read_signals
from intelligence.services.templates import (
    MASKS,
    ROLE_MARK,
    SLOT,
    Prompt,
    prompt_messages,
    template_text,
    template_variables,
    tokenize_messages,
)
from proxy.models import RequestLog

log = logging.getLogger(__name__)

RETRY_WINDOW_SECONDS = 600
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "else",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "my",
        "your",
        "our",
        "their",
        "please",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "do",
        "does",
        "did",
        "not",
        "no",
        "yes",
        "so",
        "than",
        "too",
        "very",
        "just",
        "following",
        "below",
        "above",
        "here",
        "there",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "all",
        "any",
        "each",
        "some",
    ]
)


def pattern_name(tokens: list[str], limit: int = 6) -> str:
    """A readable name: the first distinctive constant words of the user part."""
    try:
        start = tokens.index(ROLE_MARK + "user") + 1
    except ValueError:
        start = 0
    words: list[str] = []
    for token in tokens[start:]:
        if token == SLOT or token in MASKS:
            continue
        word = re.sub(r"[^\w-]", "", token).lower()
        if len(word) > 2 and word not in STOPWORDS and word not in words:
            words.append(word)
        if len(words) >= limit:
            break
    return " ".join(words) or "(no constant text)"


def fingerprint(namespace_id: int, tokens: list[str]) -> str:
    return hashlib.sha1(f"{namespace_id}:{' '.join(tokens)}".encode()).hexdigest()


def load_miner(namespace_id: int) -> TemplateMiner:
    clusters = [
        Cluster(
            tokens=list(row.tokens),
            pattern_key=row.pattern_id,
            version=row.version,
            key=row.id,
            size=row.examples,
        )
        for row in Template.objects.filter(pattern__namespace_id=namespace_id).order_by("id")
    ]
    return TemplateMiner(clusters)


@dataclass
class LearnReport:
    requests: int = 0
    new_patterns: int = 0
    new_versions: int = 0
    changed_templates: int = 0
    feedback: int = 0
    categorized: int = 0
    pattern_of: dict[str, int] = field(default_factory=dict)


def _prompt_of(row: RequestLog) -> Prompt | None:
    body = getattr(row, "body", None)
    request = body.request if body is not None else None
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        return None
    messages = prompt_messages(request)
    return tokenize_messages(messages) if messages else None


def store_clusters(namespace_id: int, miner: TemplateMiner, report: LearnReport) -> None:
    """Create or update the templates (and patterns) the miner changed."""
    now = timezone.now()
    stored_patterns: dict[int, int] = {}
    for cluster in miner.clusters:
        if not cluster.changed:
            continue
        if cluster.pattern_key < 0:
            pattern_id = stored_patterns.get(cluster.pattern_key)
            if pattern_id is None:
                pattern, _ = Pattern.objects.get_or_create(
                    fingerprint=fingerprint(namespace_id, cluster.tokens),
                    defaults={
                        "namespace_id": namespace_id,
                        "name": pattern_name(cluster.tokens),
                        "created_at": now,
                    },
                )
                pattern_id = stored_patterns[cluster.pattern_key] = pattern.id
                report.new_patterns += 1
            cluster.pattern_key = pattern_id
        values = {
            "tokens": cluster.tokens,
            "text": template_text(cluster.tokens),
            "variables": template_variables(cluster.tokens),
            "examples": cluster.size,
        }
        if cluster.key:
            Template.objects.filter(pk=cluster.key).update(updated_at=now, **values)
        else:
            row, created = Template.objects.update_or_create(
                pattern_id=cluster.pattern_key, version=cluster.version, defaults=values
            )
            cluster.key = row.id
            if created and cluster.version > 1:
                report.new_versions += 1
        Pattern.objects.filter(pk=cluster.pattern_key).update(
            name=pattern_name(cluster.tokens), last_seen_at=now
        )
        report.changed_templates += 1
        cluster.changed = False


def learn(*, limit: int = 5000) -> LearnReport:
    """Run discovery over the requests logged since the last run (synchronous ORM)."""
    report = LearnReport()
    rows = list(
        RequestLog.objects.filter(endpoint__in=("chat", "messages"), insight__isnull=True)
        .select_related("body")
        .order_by("created_at")[:limit]
    )
    if not rows:
        return report
    by_namespace: dict[int | None, list[RequestLog]] = defaultdict(list)
    for row in rows:
        by_namespace[row.namespace_id].append(row)
    for namespace_id, group in by_namespace.items():
        _learn_namespace(namespace_id, group, report)
    mark_retries(rows)
    report.categorized = categorize_insights([row.id for row in rows])
    if report.changed_templates:
        from proxy.invalidation import bump_config_version

        bump_config_version()
    return report


def _learn_namespace(namespace_id: int | None, rows: list[RequestLog], report: LearnReport) -> None:
    miner = load_miner(namespace_id) if namespace_id is not None else None
    assigned: list[tuple[RequestLog, Cluster | None]] = []
    for row in rows:
        cluster = None
        prompt = _prompt_of(row) if miner is not None else None
        if miner is not None and prompt is not None and prompt.masked:
            cluster = miner.add(prompt).cluster
        assigned.append((row, cluster))
    with transaction.atomic():
        if miner is not None and namespace_id is not None:
            store_clusters(namespace_id, miner, report)
        insights = [_insight(row, cluster) for row, cluster in assigned]
        RequestInsight.objects.bulk_create(insights, ignore_conflicts=True)
    for row, _ in assigned:
        report.feedback += feedback_from_annotations(row)
    report.requests += len(rows)
    for insight in insights:
        if insight.pattern_id:
            report.pattern_of[insight.log_id] = insight.pattern_id


def _insight(row: RequestLog, cluster: Cluster | None) -> RequestInsight:
    body = getattr(row, "body", None)
    signals = read_signals(
        status_code=row.status_code,
        error_type=row.error_type,
        finish_reason=row.finish_reason,
        request=body.request if body is not None else None,
        response=body.response if body is not None else None,
        streamed_text=body.response_text if body is not None else "",
    )
    annotations: dict[str, Any] = row.annotations or {}
    matched = annotations.get("pattern") or {}
    pattern_id = cluster.pattern_key if cluster is not None else matched.get("id")
    template_id = cluster.key if cluster is not None else matched.get("template_id")
    return RequestInsight(
        log_id=row.id,
        namespace_id=row.namespace_id,
        created_at=row.created_at,
        session_id=row.session_id,
        pattern_id=pattern_id if pattern_id and pattern_id > 0 else None,
        template_id=template_id or None,
        prompt_hash=str(annotations.get("prompt_hash", ""))[:40],
        outcome=signals.outcome,
        refused=signals.refused,
        truncated=signals.truncated,
        errored=signals.errored,
        json_valid=signals.json_valid,
    )


def mark_retries(rows: list[RequestLog]) -> int:
    """An insight whose exact prompt came again in the same session soon after is `retried`."""
    sessions = {(r.namespace_id, r.session_id) for r in rows if r.session_id and r.namespace_id}
    marked = 0
    for namespace_id, session_id in sessions:
        insights = list(
            RequestInsight.objects.filter(namespace_id=namespace_id, session_id=session_id)
            .exclude(prompt_hash="")
            .order_by("created_at")
            .only("log_id", "created_at", "prompt_hash", "retried")
        )
        last_seen: dict[str, RequestInsight] = {}
        retried = []
        for insight in insights:
            earlier = last_seen.get(insight.prompt_hash)
            if (
                earlier is not None
                and not earlier.retried
                and (insight.created_at - earlier.created_at).total_seconds()
                <= RETRY_WINDOW_SECONDS
            ):
                retried.append(earlier.log_id)
            last_seen[insight.prompt_hash] = insight
        if retried:
            marked += RequestInsight.objects.filter(log_id__in=retried).update(retried=True)
    return marked
