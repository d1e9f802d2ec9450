"""Exporting the configuration in the file format that `apply_config` reads.

Secrets never leave in clear: a provider key read from an environment variable
is written as `env:VAR`, any other key as a placeholder that `apply_config`
leaves untouched. Revoked keys are not exported (they stay revoked).
"""

from __future__ import annotations

from typing import Any

import yaml

from proxy.models import ApiKey, Namespace, Provider, Route
from proxy.services.config_file.schema import (
    ENV_PREFIX,
    PLACEHOLDER,
    ConfigFile,
    KeySpec,
    NamespaceSpec,
    ProviderSpec,
    RouteSpec,
    Spec,
    TargetSpec,
)

HEADER = (
    "# LLM Proxy configuration, exported by `manage.py export_config`.\n"
    "# Apply with `manage.py apply_config FILE`. Secrets are `env:VAR` references or\n"
    f"# {PLACEHOLDER!r} (left as set in the admin); keys' secrets are never exported.\n"
)


def _plain(spec: type[Spec], obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in spec.plain_fields()}


def exported_secret(provider: Provider) -> str | None:
    from proxy.services.providers import ENV_PROVIDERS

    if provider.api_key_env:
        return ENV_PREFIX + provider.api_key_env
    if provider.from_environment:
        spec = next((s for s in ENV_PROVIDERS if s.name == provider.name), None)
        if spec is not None:
            return ENV_PREFIX + spec.key_setting
    return PLACEHOLDER if provider.api_key_encrypted else None


def config_export() -> ConfigFile:
    providers = [
        ProviderSpec.model_construct(
            name=p.name, api_key=exported_secret(p), **_plain(ProviderSpec, p)
        )
        for p in Provider.objects.order_by("name")
    ]
    namespaces = []
    for ns in Namespace.objects.order_by("name"):
        keys = [
            KeySpec.model_construct(name=k.name, **_plain(KeySpec, k))
            for k in ApiKey.objects.usable().filter(namespace=ns).order_by("name", "created_at")
        ]
        namespaces.append(
            NamespaceSpec.model_construct(name=ns.name, keys=keys, **_plain(NamespaceSpec, ns))
        )
    routes = []
    for route in (
        Route.objects.select_related("namespace")
        .prefetch_related("targets__provider")
        .order_by("namespace__name", "alias")
    ):
        targets = [
            TargetSpec.model_construct(provider=t.provider.name, **_plain(TargetSpec, t))
            for t in route.targets.all()
        ]
        routes.append(
            RouteSpec.model_construct(
                alias=route.alias,
                namespace=route.namespace.name if route.namespace else None,
                targets=targets,
                **_plain(RouteSpec, route),
            )
        )
    return ConfigFile.model_construct(
        version=1, providers=providers, namespaces=namespaces, routes=routes
    )


def config_export_yaml() -> str:
    data = config_export().model_dump(mode="json")
    return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
