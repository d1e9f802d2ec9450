"""Applying a config file: every reference checked first, then one transaction that
creates or updates providers, namespaces, keys and routes. Nothing is deleted.

Running the same file twice changes nothing the second time. New keys are created
with a fresh secret, returned once in the summary; existing keys (matched by name
within their namespace) only have their settings updated.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Model

from proxy.models import ApiKey, Namespace, Provider, Route, RouteTarget
from proxy.services.config_file.loading import ConfigFileError, LoadedConfig
from proxy.services.config_file.schema import (
    ENV_PREFIX,
    PLACEHOLDER,
    KeySpec,
    NamespaceSpec,
    ProviderSpec,
    RouteSpec,
)
from proxy.services.keys import api_key_create, api_key_set_state


@dataclass
class ApplySummary:
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    new_keys: list[tuple[str, str]] = field(default_factory=list)  # (namespace/name, secret)

    def count(self, kind: str, outcome: str, label: str, fields: list[str] | None = None) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1
        if outcome != "unchanged":
            detail = f" ({', '.join(fields)})" if fields else ""
            self.changes.append(f"{outcome} {kind[:-1]} {label}{detail}")

    def lines(self) -> list[str]:
        return [
            f"{kind}: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
            for kind, c in self.counts.items()
        ]

    @property
    def changed(self) -> bool:
        return any(c["created"] or c["updated"] for c in self.counts.values())


def assign(obj: Model, values: Mapping[str, Any]) -> list[str]:
    """Set the values that differ; the names of the fields that changed."""
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def resolve_secret(value: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(the secret, the variable it came from or "") for an `api_key` value."""
    if value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        return environ[name], name
    return value, ""


def find_key(namespace: Namespace | None, name: str) -> tuple[ApiKey | None, int]:
    """The key of this name (a usable one first), and how many usable keys have it."""
    if namespace is None:
        return None, 0
    keys = list(ApiKey.objects.filter(namespace=namespace, name=name).order_by("-created_at"))
    usable = [k for k in keys if k.state != ApiKey.State.REVOKED]
    chosen = usable[0] if usable else keys[0] if keys else None
    return chosen, len(usable)


def check(loaded: LoadedConfig, environ: Mapping[str, str]) -> None:
    """Every problem a write would hit, found before anything is written."""
    config, where = loaded.config, loaded.where
    problems = []
    existing = set(Provider.objects.values_list("name", flat=True))
    for i, provider in enumerate(config.providers):
        if provider.name not in existing and not provider.base_url:
            problems.append(f"{where(('providers', i, 'name'))}: a new provider needs a base_url")
        value = provider.api_key or ""
        if value.startswith(ENV_PREFIX) and value[len(ENV_PREFIX) :] not in environ:
            problems.append(
                f"{where(('providers', i, 'api_key'))}: the environment variable "
                f"{value[len(ENV_PREFIX) :]!r} is not set"
            )
    providers = {p.name for p in config.providers}
    providers |= existing
    namespaces = {n.name for n in config.namespaces}
    namespaces |= set(Namespace.objects.values_list("name", flat=True))
    for i, route in enumerate(config.routes):
        if route.namespace is not None and route.namespace not in namespaces:
            problems.append(
                f"{where(('routes', i, 'namespace'))}: no namespace {route.namespace!r} "
                "in the file or the database"
            )
        for j, target in enumerate(route.targets):
            if target.provider not in providers:
                problems.append(
                    f"{where(('routes', i, 'targets', j, 'provider'))}: no provider "
                    f"{target.provider!r} in the file or the database"
                )
    for i, ns in enumerate(config.namespaces):
        namespace = Namespace.objects.filter(name=ns.name).first()
        for j, spec in enumerate(ns.keys):
            key, usable = find_key(namespace, spec.name)
            at = where(("namespaces", i, "keys", j, "name"))
            if usable > 1:
                problems.append(f"{at}: {usable} active keys are named {spec.name!r}; rename one")
            elif key is None and spec.state == "revoked":
                problems.append(f"{at}: no key {spec.name!r} to revoke")
            elif key is not None and key.state == "revoked" and spec.state != "revoked":
                problems.append(f"{at}: key {spec.name!r} is revoked; a revoked key stays revoked")
    if problems:
        raise ConfigFileError(problems)


def config_apply(
    loaded: LoadedConfig, *, environ: Mapping[str, str] | None = None, dry_run: bool = False
) -> ApplySummary:
    environ = os.environ if environ is None else environ
    check(loaded, environ)
    summary = ApplySummary()
    with transaction.atomic():
        for provider in loaded.config.providers:
            provider_upsert(provider, environ, summary)
        for namespace in loaded.config.namespaces:
            namespace_upsert(namespace, summary)
        for route in loaded.config.routes:
            route_upsert(route, summary)
        if dry_run:
            transaction.set_rollback(True)
        elif summary.changes:
            from security.services.audit import audit_record

            audit_record(
                actor="config:apply_config",
                action="config.apply",
                object_repr=str(loaded.source)[:200],
                data={"changes": summary.changes},  # names and fields, never secrets
            )
    return summary


def _outcome(created: bool, changed: list[str]) -> str:
    return "created" if created else "updated" if changed else "unchanged"


def provider_upsert(spec: ProviderSpec, environ: Mapping[str, str], summary: ApplySummary) -> None:
    provider = Provider.objects.filter(name=spec.name).first()
    created = provider is None
    provider = provider or Provider(name=spec.name)
    changed = assign(provider, spec.plain_values())
    if spec.api_key is not None and spec.api_key != PLACEHOLDER:
        secret, variable = resolve_secret(spec.api_key, environ)
        if provider.get_api_key() != secret or provider.api_key_env != variable:
            provider.set_api_key(secret)
            provider.api_key_env = variable
            changed.append("api_key")
    if created or changed:
        provider.save()
    summary.count("providers", _outcome(created, changed), spec.name, changed)
    if spec.is_default:
        for other in Provider.objects.filter(is_default=True).exclude(pk=provider.pk):
            other.is_default = False
            other.save(update_fields=["is_default", "updated_at"])
            summary.count("providers", "updated", other.name, ["is_default"])


def namespace_upsert(spec: NamespaceSpec, summary: ApplySummary) -> None:
    namespace = Namespace.objects.filter(name=spec.name).first()
    created = namespace is None
    namespace = namespace or Namespace(name=spec.name)
    changed = assign(namespace, spec.plain_values())
    if created or changed:
        namespace.save()
    summary.count("namespaces", _outcome(created, changed), spec.name, changed)
    for key in spec.keys:
        key_upsert(namespace, key, summary)


def key_upsert(namespace: Namespace, spec: KeySpec, summary: ApplySummary) -> None:
    label = f"{namespace.name}/{spec.name}"
    key, _ = find_key(namespace, spec.name)
    created = key is None
    if key is None:
        issued = api_key_create(namespace=namespace, name=spec.name)
        key = issued.key
        summary.new_keys.append((label, issued.secret))
    values = spec.plain_values()
    state = values.pop("state", None)
    changed = assign(key, values)
    if changed:
        key.save(update_fields=changed)
    if state is not None and key.state != state:
        api_key_set_state(key=key, state=state)
        changed.append("state")
    summary.count("keys", _outcome(created, changed), label, changed)


def _target_rows(rows: Any) -> list[tuple[Any, ...]]:
    """Targets as comparable tuples, in a stable order (file order does not matter)."""
    return sorted(
        (provider, model, weight, priority, -1.0 if timeout is None else timeout)
        for provider, model, weight, priority, timeout in rows
    )


def route_upsert(spec: RouteSpec, summary: ApplySummary) -> None:
    namespace = Namespace.objects.get(name=spec.namespace) if spec.namespace else None
    label = f"{spec.namespace}:{spec.alias}" if spec.namespace else spec.alias
    route = Route.objects.filter(namespace=namespace, alias=spec.alias).first()
    created = route is None
    route = route or Route(namespace=namespace, alias=spec.alias)
    changed = assign(route, spec.plain_values())
    if created or changed:
        route.save()
    if "targets" in spec.model_fields_set:
        current = [
            (t.provider.name, t.model, t.weight, t.priority, t.timeout_seconds)
            for t in route.targets.select_related("provider")
        ]
        wanted = [
            (t.provider, t.model, t.weight, t.priority, t.timeout_seconds) for t in spec.targets
        ]
        if _target_rows(current) != _target_rows(wanted):
            route.targets.all().delete()
            providers = {p.name: p for p in Provider.objects.all()}
            for target in spec.targets:
                RouteTarget.objects.create(
                    route=route,
                    provider=providers[target.provider],
                    model=target.model,
                    weight=target.weight,
                    priority=target.priority,
                    timeout_seconds=target.timeout_seconds,
                )
            if not created:
                changed.append("targets")
    summary.count("routes", _outcome(created, changed), label, changed)
