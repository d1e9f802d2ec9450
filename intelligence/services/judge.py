"""The optional LLM judge: Claude scores a sample of answers, one more success signal.

Off unless `JUDGE_SAMPLE_RATE` > 0 and `SUGGESTIONS_API_KEY` is set (the judge uses
the same Claude settings as the suggestions). The sample is deterministic (a hash
of the request id), so running the job twice judges the same requests once. The
prompt and answer are redacted first. Scores are stored as `JudgeScore`; each
experiment arm reports their mean with an interval (`judge` in
`manage.py experiments status`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from intelligence.models import JudgeScore, RequestInsight
from intelligence.redaction import redact_for_external
from intelligence.services.signals import response_text
from intelligence.services.suggestions import JSON_OBJECT, ask_claude
from intelligence.services.templates import prompt_messages

log = logging.getLogger(__name__)

JUDGE_PROMPT = """You grade answers given by a language model. You see the prompt and the
answer. Score how well the answer does what the prompt asks (correct, complete, follows
the format asked for) from 0 (useless) to 1 (excellent).
Answer with a single JSON object and nothing else: {"score": 0.0-1.0, "reason": "..."}"""


def sampled(request_id: str, rate: float) -> bool:
    digest = hashlib.sha256(f"judge:{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def parse_score(text: str) -> tuple[float, str] | None:
    found = JSON_OBJECT.search(text)
    if found is None:
        return None
    try:
        answer = json.loads(found.group(0))
    except ValueError:
        return None
    score = answer.get("score") if isinstance(answer, dict) else None
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        return None
    reason = answer.get("reason")
    return float(score), reason if isinstance(reason, str) else ""


def judge_sample(*, hours: int = 24) -> dict[str, int]:
    """Judge the sampled, not yet judged successful answers of the last `hours`."""
    rate = settings.JUDGE_SAMPLE_RATE
    if rate <= 0 or not settings.SUGGESTIONS_API_KEY:
        return {"judged": 0, "invalid": 0}
    candidates = (
        RequestInsight.objects.filter(
            created_at__gte=timezone.now() - timedelta(hours=hours),
            outcome=RequestInsight.Outcome.SUCCESS,
            log__judge__isnull=True,
        )
        .select_related("log__body")
        .order_by("-created_at")
    )
    judged = invalid = 0
    for insight in candidates.iterator():
        if judged + invalid >= settings.JUDGE_MAX_PER_RUN:
            break
        if not sampled(insight.log_id, rate):
            continue
        body = getattr(insight.log, "body", None)
        if body is None or not isinstance(body.request, dict):
            continue
        prompt = "\n".join(f"[{role}] {text}" for role, text in prompt_messages(body.request))
        answer = response_text(body.response, body.response_text)
        message = redact_for_external(f"PROMPT:\n{prompt[:4000]}\n\nANSWER:\n{answer[:4000]}")
        result = parse_score(ask_claude(message, system=JUDGE_PROMPT, max_tokens=300))
        if result is None:
            invalid += 1
            log.warning("the judge's answer for %s was unusable", insight.log_id)
            continue
        JudgeScore.objects.get_or_create(
            log_id=insight.log_id,
            defaults={"score": result[0], "reason": result[1], "model": settings.SUGGESTIONS_MODEL},
        )
        judged += 1
    return {"judged": judged, "invalid": invalid}
