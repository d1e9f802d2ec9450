"""The audit trail: append-only, hash-chained.

    audit_record(actor=..., action=..., obj=None, data=None) -> AuditEntry

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own
content (canonical JSON), so changing, removing or reordering any entry breaks
every hash after it; `audit_verify()` walks the chain and names the first broken
entry. Appends are serialised (a transaction-level advisory lock on PostgreSQL;
SQLite serialises writers itself). On PostgreSQL a trigger refuses UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from security.models import AuditEntry

GENESIS = "0" * 64
ADVISORY_LOCK_ID = 0x4C4C4D41  # "LLMA"


def entry_hash(prev_hash: str, content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def audit_record(
    *,
    actor: str,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. `obj` (a model instance) fills type, id and repr when given.

    `actor` is who did it ("admin:alice", "system:anomaly", "api-key:12");
    `action` is dotted ("policy.change", "key.revoke", "auth.login").
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_ID])
        last = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
        entry = AuditEntry(
            created_at=timezone.now(),
            actor=actor[:150],
            action=action[:64],
            object_type=object_type[:100],
            object_id=str(object_id)[:64],
            object_repr=object_repr[:200],
            data=json.loads(json.dumps(data or {}, default=str)),
            prev_hash=last or GENESIS,
        )
        entry.hash = entry_hash(entry.prev_hash, entry.content())
        entry.save(force_insert=True)
    return entry


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def audit_verify() -> ChainReport:
    prev = GENESIS
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        if entry.prev_hash != prev:
            return ChainReport(
                checked, entry.pk, "its previous-hash link does not match the entry before it"
            )
        if entry_hash(prev, entry.content()) != entry.hash:
            return ChainReport(checked, entry.pk, "its content does not match its hash")
        prev = entry.hash
        checked += 1
    return ChainReport(checked)
