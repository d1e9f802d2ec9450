"""SecurityEvent rows, written by the request-log writer (off the request path).

The pipeline leaves each request's detections in `annotations["security"]`;
`events_from_rows` (a `proxy.recorder.LOG_WRITE_EXTENSIONS` hook) stores them in
the same transaction as the request logs. A replayed batch is not stored twice.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from security.models import SecurityEvent


def events_from_rows(rows: list[dict[str, Any]]) -> int:
    wanted = [r for r in rows if (r.get("annotations") or {}).get("security")]
    if not wanted:
        return 0
    done = set(
        SecurityEvent.objects.filter(request_log_id__in=[r["id"] for r in wanted])
        .values_list("request_log_id", flat=True)
        .distinct()
    )
    events = []
    for row in wanted:
        if row["id"] in done:
            continue
        created_at = parse_datetime(row["created_at"]) or timezone.now()
        for event in row["annotations"]["security"]:
            events.append(
                SecurityEvent(
                    request_log_id=row["id"],
                    created_at=created_at,
                    namespace_id=row.get("namespace_id"),
                    api_key_id=row.get("api_key_id"),
                    policy=event["policy"][:100],
                    mode=event["mode"],
                    direction=event["direction"],
                    detector=event["detector"],
                    label=event["label"][:64],
                    score=event["score"],
                    message_index=event.get("message_index"),
                    start=event["start"],
                    end=event["end"],
                    action=event["action"],
                    action_taken=event["action_taken"],
                )
            )
    SecurityEvent.objects.bulk_create(events)
    return len(events)
