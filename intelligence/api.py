"""The intelligence API under /api: feedback, patterns, classification.

Feedback, patterns and classification take a virtual key (`Authorization:
Bearer lp-...`) and see only the key's namespace. Training and learning change
shared state: they need a staff session (the admin's login).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from intelligence import schemas
from intelligence.models import Pattern, RequestInsight
from intelligence.services import categories, discovery, feedback
from intelligence.services.matching import score_value
from proxy.models import ApiKey

router = Router(tags=["Intelligence"])


class VirtualKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        key = ApiKey.objects.filter(key_hash=digest, state=ApiKey.State.ACTIVE).first()
        if key is None or (key.expires_at is not None and key.expires_at <= timezone.now()):
            return None
        return key


class StaffAuth(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_staff else None


def _key(request: HttpRequest) -> ApiKey:
    return request.auth  # type: ignore[attr-defined,no-any-return]


@router.post("/feedback", response={201: schemas.FeedbackOut}, auth=VirtualKeyAuth())
def give_feedback(request: HttpRequest, payload: schemas.FeedbackIn) -> Status:
    """Score a request of your namespace: `score` in [0, 1], or `thumbs` up/down."""
    score = payload.score if payload.score is not None else score_value(payload.thumbs)
    if score is None:
        raise HttpError(400, "Give a `score` between 0 and 1, or `thumbs` up or down.")
    try:
        stored = feedback.feedback_record(
            namespace_id=_key(request).namespace_id,
            request_id=payload.request_id,
            score=score,
            comment=payload.comment,
        )
    except feedback.FeedbackRejected as exc:
        raise HttpError(404, f"No request {payload.request_id!r} in this namespace.") from exc
    return Status(201, {"id": stored.id, "request_id": stored.log_id, "score": stored.score})


def _pattern_out(pattern: Pattern) -> dict[str, Any]:
    return {
        **{name: getattr(pattern, name) for name in schemas.PatternOut.model_fields},
        "category": pattern.category.name if pattern.category else None,
        "cost_usd": float(pattern.cost_usd),
    }


@router.get("/patterns", response=list[schemas.PatternOut], auth=VirtualKeyAuth())
def list_patterns(
    request: HttpRequest, limit: int = Query(100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    rows = Pattern.objects.filter(namespace_id=_key(request).namespace_id).select_related(
        "category"
    )[: min(limit, 1000)]
    return [_pattern_out(p) for p in rows]


@router.get("/patterns/{int:pattern_id}", response=schemas.PatternDetailOut, auth=VirtualKeyAuth())
def pattern_detail(request: HttpRequest, pattern_id: int) -> dict[str, Any]:
    pattern = (
        Pattern.objects.filter(pk=pattern_id, namespace_id=_key(request).namespace_id)
        .select_related("category")
        .first()
    )
    if pattern is None:
        raise HttpError(404, f"No pattern {pattern_id} in this namespace.")
    return {
        **_pattern_out(pattern),
        "versions": list(pattern.versions.all()),
        "stats": [
            {**s, "cost_usd": float(s["cost_usd"])}
            for s in pattern.stats.order_by("-hour")[:48].values()
        ],
        "examples": list(
            RequestInsight.objects.filter(pattern=pattern).values_list("log_id", flat=True)[:10]
        ),
    }


@router.post("/patterns/classify", response=list[schemas.ClassifyResult], auth=VirtualKeyAuth())
def classify(request: HttpRequest, payload: schemas.ClassifyIn) -> list[dict[str, Any]]:
    items = [(item.id, item.text) for item in payload.items]
    return categories.classify_texts(items, namespace_id=_key(request).namespace_id)


@router.post("/patterns/train", response=schemas.TrainOut, auth=StaffAuth())
def train(request: HttpRequest, payload: schemas.TrainIn) -> dict[str, Any]:
    categories.examples_add([(e.text, e.label) for e in payload.examples])
    try:
        report = categories.classifier_train()
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
    return {"examples": report.examples, "categories": report.categories}


@router.post("/patterns/learn", response=schemas.LearnOut, auth=StaffAuth())
def learn(request: HttpRequest) -> dict[str, Any]:
    from intelligence.services.stats import rollup

    report = discovery.learn()
    rollup()
    return {
        "requests": report.requests,
        "new_patterns": report.new_patterns,
        "new_versions": report.new_versions,
        "feedback": report.feedback,
    }
