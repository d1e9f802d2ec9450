"""The scan interface: run a policy over texts or message lists, in the stable line format.

Input line:  {"id": ..., "text": "..."}  or  {"id": ..., "messages": [...]}
Output line: {"id": ..., "action": "allow|block|redact|flag", "score": <highest injection
              probability>, "detections": [{"detector", "label", "score", "start", "end"}],
              "redacted": "..."}
(For message lists each detection also carries "message", the index of the text it is in,
and "redacted" joins the redacted texts with blank lines.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from security import classifier, messages
from security.engine import CompiledPolicy, Outcome, Segment, default_policy, evaluate
from security.redaction import redact

ACTIONS_REPORTED = {"block": "block", "redact": "redact", "alert": "flag", "flag": "flag"}


def segments_of(item: dict[str, Any]) -> tuple[list[Segment], bool]:
    if isinstance(item.get("messages"), list):
        places = messages.text_places({"messages": item["messages"]})
        return messages.segments(places), True
    text = item.get("text")
    if not isinstance(text, str):
        raise ValueError('each line needs "text" (a string) or "messages" (a list)')
    return [Segment(0, "user", text)], False


def scan_item(item: dict[str, Any], policy: CompiledPolicy) -> dict[str, Any]:
    try:
        segments, is_messages = segments_of(item)
    except ValueError as exc:
        return {"id": item.get("id"), "error": str(exc)}
    outcome = evaluate([policy], segments, model=str(item.get("model") or ""))
    result = {
        "id": item.get("id"),
        "action": action_of(outcome),
        "score": round(injection_score(outcome, segments), 4),
        "detections": [
            {**h.detection.as_dict(), **({"message": h.segment} if is_messages else {})}
            for h in outcome.hits
        ],
        "redacted": "\n\n".join(redacted_text(outcome, s) for s in segments),
    }
    if "was" in item:  # replayed traffic: what the gateway did at the time
        result["was"] = item["was"]
    return result


def action_of(outcome: Outcome) -> str:
    would = outcome.would()
    return ACTIONS_REPORTED.get(would, "allow")


def injection_score(outcome: Outcome, segments: list[Segment]) -> float:
    probabilities = [classifier.probability(s.text) or 0.0 for s in segments if s.role != "system"]
    return max([outcome.top_injection_score, *probabilities])


def redacted_text(outcome: Outcome, segment: Segment) -> str:
    spans = [
        (h.detection.start, h.detection.end, h.detection.label)
        for h in outcome.hits
        if h.segment == segment.index
        and h.rule.action == "redact"
        and h.detection.end > h.detection.start
    ]
    return redact(segment.text, spans) if spans else segment.text


def scan_items(
    items: Iterable[dict[str, Any]], policy: CompiledPolicy | None = None
) -> Iterator[dict[str, Any]]:
    chosen = policy or default_policy()
    for item in items:
        yield scan_item(item, chosen)


def items_from_logs(since: datetime) -> Iterator[dict[str, Any]]:
    """Stored traffic as scan items (requests with a stored body), oldest first."""
    from proxy.models import RequestBody

    bodies = (
        RequestBody.objects.filter(log__created_at__gte=since)
        .select_related("log")
        .order_by("log__created_at")
    )
    for body in bodies.iterator(chunk_size=500):
        request = body.request if isinstance(body.request, dict) else {}
        if isinstance(request.get("messages"), list):
            yield {
                "id": body.log_id,
                "messages": request["messages"],
                "model": body.log.requested_model,
                "was": "block" if body.log.error_type == "policy_violation" else "allow",
            }


def summarise(results: Iterable[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for result in results:
        counts[result.get("action", "error")] += 1
        if "was" in result and result["was"] != result.get("action"):
            counts["changed"] += 1
    return counts
