"""Cache invalidation for the configuration snapshot.

Any save or delete of a configuration row bumps a shared version number (one row
in `ConfigVersion`), and drops this process's snapshot at once. Other server
processes notice the new version within `CONFIG_REFRESH_SECONDS` (see
`proxy.config.ConfigHolder`), without the request path ever waiting on it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.db.models.signals import post_delete, post_save


def bump_config_version(**_: Any) -> None:
    from proxy.models import ConfigVersion
    from proxy.runtime import get_runtime

    updated = ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    get_runtime().invalidate_config()


def connect_signals() -> None:
    from proxy.models import ApiKey, Namespace, Provider, Route, RouteTarget

    for model in (Namespace, ApiKey, Provider, Route, RouteTarget):
        post_save.connect(bump_config_version, sender=model, dispatch_uid=f"cfg-save-{model}")
        post_delete.connect(bump_config_version, sender=model, dispatch_uid=f"cfg-del-{model}")


def register_config_model(model: type) -> None:
    """Later apps (security policies, rules) register their configuration models here."""
    post_save.connect(bump_config_version, sender=model, dispatch_uid=f"cfg-save-{model}")
    post_delete.connect(bump_config_version, sender=model, dispatch_uid=f"cfg-del-{model}")
