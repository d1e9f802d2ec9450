"""Virtual keys: created (the secret shown once), suspended, revoked."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from proxy.models import KEY_PREFIX, ApiKey, Namespace
from proxy.services.auth import PREFIX_LENGTH
from security.services.audit import audit_record


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def namespace_get_or_create(*, name: str) -> Namespace:
    namespace, _ = Namespace.objects.get_or_create(name=name)
    return namespace


@transaction.atomic
def api_key_create(
    *,
    namespace: Namespace,
    name: str,
    allowed_models: list[str] | None = None,
    expires_at: datetime | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    budget_usd: Decimal | None = None,
    budget_period: str = ApiKey.Period.MONTH,
    actor: str = "system",
) -> IssuedKey:
    secret = generate_secret()
    key = ApiKey.objects.create(
        namespace=namespace,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        key_hash=ApiKey.hash_secret(secret),
        allowed_models=allowed_models or [],
        expires_at=expires_at,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        budget_usd=budget_usd,
        budget_period=budget_period,
    )
    audit_record(actor=actor, action="key.create", obj=key, data={"namespace": namespace.name})
    return IssuedKey(key=key, secret=secret)


@transaction.atomic
def api_key_set_state(*, key: ApiKey, state: str, actor: str = "system") -> ApiKey:
    previous = key.state
    key.state = state
    key.revoked_at = timezone.now() if state == ApiKey.State.REVOKED else None
    key.save(update_fields=["state", "revoked_at"])
    action = "key.revoke" if state == ApiKey.State.REVOKED else "key.state"
    audit_record(actor=actor, action=action, obj=key, data={"from": previous, "to": state})
    return key


def api_key_revoke(*, key: ApiKey, actor: str = "system") -> ApiKey:
    return api_key_set_state(key=key, state=ApiKey.State.REVOKED, actor=actor)
