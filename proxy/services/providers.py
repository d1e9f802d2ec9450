"""Providers from the environment: the variables the official SDKs read."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from proxy.models import Provider


@dataclass(frozen=True)
class EnvProvider:
    name: str
    kind: str
    key_setting: str
    url_setting: str
    default_url: str


ENV_PROVIDERS = (
    EnvProvider(
        "openai", "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"
    ),
    EnvProvider(
        "openrouter",
        "openai",
        "OPENROUTER_API_KEY",
        "OPENROUTER_BASE_URL",
        "https://openrouter.ai/api/v1",
    ),
    EnvProvider(
        "anthropic",
        "anthropic",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "https://api.anthropic.com",
    ),
)


def providers_sync_from_env() -> list[Provider]:
    """Create or update a provider for each one configured in the environment.

    A provider counts as configured when its API key or its base URL is set.
    The first one becomes the default provider when none is marked default.
    """
    from proxy.providers import ADAPTERS

    synced = []
    for spec in ENV_PROVIDERS:
        if spec.kind not in ADAPTERS:
            continue
        api_key = getattr(settings, spec.key_setting, "")
        base_url = getattr(settings, spec.url_setting, "")
        if not api_key and not base_url:
            continue
        provider = Provider.objects.filter(name=spec.name).first() or Provider(
            name=spec.name, kind=spec.kind
        )
        provider.base_url = base_url or spec.default_url
        provider.set_api_key(api_key)
        provider.from_environment = True
        provider.allow_private_network = True  # the operator's own configuration is trusted
        provider.save()
        synced.append(provider)
    if synced and not Provider.objects.filter(is_default=True).exists():
        first = synced[0]
        first.is_default = True
        first.save(update_fields=["is_default"])
    return synced
