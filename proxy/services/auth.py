"""Stage 1, authenticate: the virtual key, from the snapshot (the DB only on a miss)."""

from __future__ import annotations

import hashlib
import hmac

from django.db import DatabaseError
from django.utils import timezone

from proxy.call import Call
from proxy.config import ConfigSnapshot, KeyInfo, key_info_from_row
from proxy.errors import ProxyError
from proxy.models import KEY_PREFIX, ApiKey
from proxy.runtime import Runtime

PREFIX_LENGTH = 12


def presented_key(call: Call) -> str:
    authorization = call.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    if call.api_format == "anthropic":
        return call.headers.get("x-api-key", "").strip()
    return ""


def find_keys(prefix: str) -> tuple[KeyInfo, ...]:
    """Synchronous DB lookup for a key the snapshot does not know (yet)."""
    rows = ApiKey.objects.usable().select_related("namespace").filter(prefix=prefix)
    return tuple(key_info_from_row(row) for row in rows)


def match(candidates: tuple[KeyInfo, ...], digest: str) -> KeyInfo | None:
    found = None
    for candidate in candidates:
        if hmac.compare_digest(candidate.key_hash, digest):
            found = candidate
    return found


async def authenticate(call: Call, snapshot: ConfigSnapshot, runtime: Runtime) -> KeyInfo:
    secret = presented_key(call)
    if not secret:
        raise ProxyError(401, "authentication", "Missing API key.", code="missing_api_key")
    if not secret.startswith(KEY_PREFIX):
        raise ProxyError(401, "authentication", "Invalid API key.", code="invalid_api_key")
    digest = hashlib.sha256(secret.encode()).hexdigest()
    prefix = secret[:PREFIX_LENGTH]
    key = match(snapshot.keys_by_prefix.get(prefix, ()), digest)
    if key is None and not runtime.recently_missed(digest):
        try:
            found = await runtime.run_on_db_thread(find_keys, prefix)
        except DatabaseError:  # a key newer than the snapshot cannot be checked now
            raise ProxyError(
                503,
                "overloaded",
                "This API key cannot be checked right now; try again shortly.",
                code="key_store_unavailable",
                headers={"retry-after": "2"},
            ) from None
        key = match(found, digest)
        if key is None:
            runtime.remember_miss(digest)
    if key is None:
        raise ProxyError(401, "authentication", "Invalid API key.", code="invalid_api_key")
    if key.state == ApiKey.State.SUSPENDED:
        raise ProxyError(403, "permission", "This API key is suspended.", code="key_suspended")
    if key.state != ApiKey.State.ACTIVE:
        raise ProxyError(401, "authentication", "This API key is revoked.", code="key_revoked")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise ProxyError(401, "authentication", "This API key has expired.", code="key_expired")
    call.key = key
    return key
