"""Feedback on a request: from the API, or carried in a header by a later request.

Feedback is only accepted for a request of the same namespace as the key that
gives it. A request's feedback score is the mean of what it received; it feeds
the pattern's success rate (see `RequestInsight.succeeded`) at the next rollup,
which `feedback_record` runs at once for the request's hour.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Avg

from intelligence.models import Feedback, RequestInsight
from proxy.models import RequestLog


class FeedbackRejected(Exception):
    """Unknown request, or a request of another namespace (both look the same)."""


def _apply(log: RequestLog) -> None:
    mean = Feedback.objects.filter(log=log).aggregate(mean=Avg("score"))["mean"]
    RequestInsight.objects.filter(log=log).update(feedback_score=mean)


def feedback_record(
    *,
    namespace_id: int,
    request_id: str,
    score: float,
    comment: str = "",
    source: str = Feedback.Source.API,
    carrier: str = "",
) -> Feedback:
    if not 0.0 <= score <= 1.0:
        raise ValueError("score must be between 0 and 1")
    log = RequestLog.objects.filter(pk=request_id, namespace_id=namespace_id).first()
    if log is None:
        raise FeedbackRejected(request_id)
    with transaction.atomic():
        feedback = Feedback.objects.create(
            log=log,
            namespace_id=namespace_id,
            score=score,
            comment=comment[:4000],
            source=source,
            carrier=carrier,
        )
        _apply(log)
    insight = RequestInsight.objects.filter(log=log).only("pattern_id", "created_at").first()
    if insight is not None and insight.pattern_id:
        from intelligence.services.stats import rollup_pattern_hour

        rollup_pattern_hour(insight.pattern_id, insight.created_at)
    return feedback


def feedback_from_annotations(row: RequestLog) -> int:
    """Store the feedback a request carried in `x-llmproxy-feedback`. Returns how many."""
    given = (row.annotations or {}).get("feedback_given") or ()
    stored = 0
    if row.namespace_id is None:
        return 0
    for item in given:
        try:
            feedback_record(
                namespace_id=row.namespace_id,
                request_id=str(item.get("request_id", "")),
                score=float(item.get("score")),
                source=Feedback.Source.HEADER,
                carrier=row.id,
            )
        except (FeedbackRejected, ValueError, TypeError, IntegrityError):
            continue
        stored += 1
    return stored
