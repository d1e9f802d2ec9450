"""An in-memory snapshot of the gateway's configuration, so the hot path never
waits on the database.

The snapshot is immutable; a reload builds a new one on the proxy's database
thread and swaps it in. Requests trigger the freshness check (at most every
`CONFIG_REFRESH_SECONDS`) but never wait for it, except the very first request
of a process, which has nothing to serve from yet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LimitsInfo:
    """A key's or a namespace's rate limits and budget (None: no limit)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    budget_usd: Decimal | None = None
    budget_period: str = "month"


NO_LIMITS = LimitsInfo()


def limits_info_from_row(row: Any) -> LimitsInfo:
    info = LimitsInfo(
        requests_per_minute=row.requests_per_minute,
        tokens_per_minute=row.tokens_per_minute,
        budget_usd=row.budget_usd,
        budget_period=row.budget_period,
    )
    return NO_LIMITS if info == NO_LIMITS else info


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A route's own prices, USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal


def price_override_from_row(route: Any) -> PriceOverride | None:
    if route.input_usd_per_mtok is None or route.output_usd_per_mtok is None:
        return None
    return PriceOverride(
        input=route.input_usd_per_mtok,
        output=route.output_usd_per_mtok,
        cache_read=(
            route.input_usd_per_mtok
            if route.cache_read_usd_per_mtok is None
            else route.cache_read_usd_per_mtok
        ),
        cache_write=(
            route.input_usd_per_mtok
            if route.cache_write_usd_per_mtok is None
            else route.cache_write_usd_per_mtok
        ),
    )


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    namespace_id: int
    namespace: str
    state: str
    allowed_models: tuple[str, ...]
    expires_at: datetime | None
    key_hash: str = field(default="", repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    limits: LimitsInfo = NO_LIMITS
    namespace_limits: LimitsInfo = NO_LIMITS


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: int
    name: str
    kind: str
    base_url: str
    api_key: str = field(repr=False)
    timeout_seconds: float | None
    extra_headers: dict[str, str]
    models: tuple[str, ...]
    allow_private_network: bool = False


@dataclass(frozen=True, slots=True)
class TargetInfo:
    provider: ProviderInfo
    model: str
    weight: int = 1
    priority: int = 0
    timeout_seconds: float | None = None

    @property
    def label(self) -> str:
        return f"{self.provider.name}/{self.model}"


@dataclass(frozen=True, slots=True)
class RouteInfo:
    id: int
    alias: str
    namespace_id: int | None
    strategy: str
    targets: tuple[TargetInfo, ...]
    extra: dict[str, Any] = field(default_factory=dict)
    prices: PriceOverride | None = None
    cache_enabled: bool = False
    cache_ttl_seconds: int | None = None


@dataclass(frozen=True)
class ConfigSnapshot:
    version: int
    keys_by_prefix: dict[str, tuple[KeyInfo, ...]]
    providers: dict[str, ProviderInfo]
    default_provider: ProviderInfo | None
    routes: dict[tuple[int | None, str], RouteInfo]
    extra: dict[str, Any] = field(default_factory=dict)

    def route_for(self, namespace_id: int | None, alias: str) -> RouteInfo | None:
        return self.routes.get((namespace_id, alias)) or self.routes.get((None, alias))

    def routes_visible_to(self, namespace_id: int | None) -> list[RouteInfo]:
        return [r for (ns, _), r in self.routes.items() if ns is None or ns == namespace_id]


def key_info_from_row(key: Any) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        namespace_id=key.namespace_id,
        namespace=key.namespace.name,
        state=key.state,
        allowed_models=tuple(key.allowed_models or ()),
        expires_at=key.expires_at,
        key_hash=key.key_hash,
        limits=limits_info_from_row(key),
        namespace_limits=limits_info_from_row(key.namespace),
    )


def provider_info_from_row(provider: Any) -> ProviderInfo:
    return ProviderInfo(
        id=provider.id,
        name=provider.name,
        kind=provider.kind,
        base_url=provider.base_url.rstrip("/"),
        api_key=provider.get_api_key(),
        timeout_seconds=provider.timeout_seconds,
        extra_headers=dict(provider.extra_headers or {}),
        models=tuple(provider.model_names or ()),
        allow_private_network=provider.allow_private_network,
    )


# Later apps add their configuration to the snapshot: each loader returns a
# (name, value) pair stored in `ConfigSnapshot.extra`.
SNAPSHOT_EXTENSIONS: tuple[str, ...] = (
    "intelligence.services.matching.snapshot_templates",
    "intelligence.services.semantic_cache.snapshot_cache_settings",
    "security.selectors.snapshot_policies",
    "security.anomaly.snapshot.load",
    "intelligence.services.enhance.snapshot_enhancements",
)


def load_snapshot() -> ConfigSnapshot:
    """Read the whole configuration (synchronous ORM; runs on the DB thread)."""
    from django.utils.module_loading import import_string

    from proxy.models import ApiKey, ConfigVersion, Provider, Route

    version_row = ConfigVersion.objects.filter(pk=1).first()
    keys: dict[str, tuple[KeyInfo, ...]] = {}
    for row in ApiKey.objects.usable().select_related("namespace"):
        keys[row.prefix] = (*keys.get(row.prefix, ()), key_info_from_row(row))
    providers = {p.name: provider_info_from_row(p) for p in Provider.objects.filter(enabled=True)}
    default = next(
        (providers[p.name] for p in Provider.objects.filter(enabled=True, is_default=True)[:1]),
        None,
    )
    if default is None and len(providers) == 1:
        default = next(iter(providers.values()))
    routes: dict[tuple[int | None, str], RouteInfo] = {}
    for route in Route.objects.filter(enabled=True).prefetch_related("targets__provider"):
        targets = tuple(
            TargetInfo(
                provider=providers[t.provider.name],
                model=t.model,
                weight=t.weight,
                priority=t.priority,
                timeout_seconds=t.timeout_seconds,
            )
            for t in route.targets.all()
            if t.provider.name in providers
        )
        routes[(route.namespace_id, route.alias)] = RouteInfo(
            id=route.id,
            alias=route.alias,
            namespace_id=route.namespace_id,
            strategy=route.strategy,
            targets=targets,
            prices=price_override_from_row(route),
            cache_enabled=route.cache_enabled,
            cache_ttl_seconds=route.cache_ttl_seconds,
        )
    extra: dict[str, Any] = {}
    for dotted in SNAPSHOT_EXTENSIONS:
        name, value = import_string(dotted)()
        extra[name] = value
    return ConfigSnapshot(
        version=version_row.version if version_row else 0,
        keys_by_prefix=keys,
        providers=providers,
        default_provider=default,
        routes=routes,
        extra=extra,
    )


def read_version() -> int:
    from proxy.models import ConfigVersion

    row = ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return row or 0


class ConfigHolder:
    """Holds the current snapshot of one process and keeps it fresh."""

    def __init__(self, run_on_db_thread: Callable[..., Any]) -> None:
        self._run = run_on_db_thread
        self._snapshot: ConfigSnapshot | None = None
        self._checked_at = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    def invalidate(self) -> None:
        """Forget the snapshot: the next request reloads before it is served."""
        self._snapshot = None

    def peek(self) -> ConfigSnapshot | None:
        return self._snapshot

    async def current(self) -> ConfigSnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            return await self._load_now()
        now = time.monotonic()
        if now - self._checked_at >= settings.CONFIG_REFRESH_SECONDS and self._refreshing is None:
            self._checked_at = now
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_if_changed())
        return snapshot

    async def _load_now(self) -> ConfigSnapshot:
        snapshot = await self._run(load_snapshot)
        self._snapshot = snapshot
        self._checked_at = time.monotonic()
        return snapshot

    async def _refresh_if_changed(self) -> None:
        try:
            version = await self._run(read_version)
            current = self._snapshot
            if current is not None and version != current.version:
                self._snapshot = await self._run(load_snapshot)
                log.info("configuration reloaded (version %s)", version)
        except Exception:  # the database is down: keep serving the last snapshot
            log.warning("configuration refresh failed; serving the last snapshot", exc_info=True)
        finally:
            self._refreshing = None
