"""Sessions group requests; the log writer keeps their counters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from proxy.models import Session


def sessions_touch(logs: Iterable[Any]) -> None:
    """Count a batch of request logs into their sessions (inside the writer's transaction)."""
    groups: dict[tuple[int, str], list[Any]] = {}
    for entry in logs:
        if entry.session_id and entry.namespace_id:
            groups.setdefault((entry.namespace_id, entry.session_id), []).append(entry.created_at)
    for (namespace_id, session_id), times in groups.items():
        first, last = min(times), max(times)
        updated = Session.objects.filter(namespace_id=namespace_id, session_id=session_id).update(
            last_seen=last, request_count=F("request_count") + len(times)
        )
        if updated:
            continue
        try:
            with transaction.atomic():
                Session.objects.create(
                    namespace_id=namespace_id,
                    session_id=session_id,
                    first_seen=first,
                    last_seen=last,
                    request_count=len(times),
                )
        except IntegrityError:  # created by another process meanwhile
            Session.objects.filter(namespace_id=namespace_id, session_id=session_id).update(
                last_seen=last, request_count=F("request_count") + len(times)
            )
