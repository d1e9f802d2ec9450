"""The management commands: keys, the first admin account, providers from the environment."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from proxy.models import ApiKey, Namespace, Provider

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_api_key_prints_the_key_as_the_last_line_and_creates_the_namespace() -> None:
    output = run("create_api_key", "--namespace", "team-x", "--name", "ci")
    secret = output.strip().splitlines()[-1]
    assert secret.startswith("lp-")
    key = ApiKey.objects.get(key_hash=ApiKey.hash_secret(secret))
    assert key.namespace == Namespace.objects.get(name="team-x")
    assert key.name == "ci" and key.state == ApiKey.State.ACTIVE
    assert key.prefix == secret[:12]
    assert secret not in (key.key_hash + key.prefix)  # only its hash is stored


def test_create_api_key_can_restrict_the_models() -> None:
    output = run(
        "create_api_key", "--namespace", "n", "--name", "k",
        "--allow-model", "gpt-4o-mini", "--allow-model", "fast",
    )  # fmt: skip
    key = ApiKey.objects.get(key_hash=ApiKey.hash_secret(output.strip().splitlines()[-1]))
    assert key.allowed_models == ["gpt-4o-mini", "fast"]


@pytest.mark.parametrize("given", ["secret", "prefix", "id"])
def test_revoke_api_key_revokes_by_key_prefix_or_id(given: str) -> None:
    secret = run("create_api_key", "--namespace", "n", "--name", "k").strip().splitlines()[-1]
    key = ApiKey.objects.get(key_hash=ApiKey.hash_secret(secret))
    reference = {"secret": secret, "prefix": key.prefix, "id": str(key.id)}[given]
    assert "Revoked" in run("revoke_api_key", reference)
    key.refresh_from_db()
    assert key.state == ApiKey.State.REVOKED and key.revoked_at is not None


def test_revoke_api_key_refuses_a_key_that_does_not_exist() -> None:
    with pytest.raises(CommandError, match="0 keys match"):
        run("revoke_api_key", "lp-nosuchkey")


def test_ensure_admin_creates_one_admin_and_prints_a_generated_password_once(
    settings: Any,
) -> None:
    settings.ADMIN_PASSWORD = ""
    first = run("ensure_admin")
    password = first.split("with password ")[1].split(". ")[0]
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)
    assert run("ensure_admin") == ""  # never again, never a second account
    assert get_user_model().objects.count() == 1


def test_ensure_admin_takes_the_password_from_the_environment(settings: Any) -> None:
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "root", "correct horse battery"
    output = run("ensure_admin")
    assert "correct horse" not in output and "(from ADMIN_PASSWORD)" in output
    assert get_user_model().objects.get(username="root").check_password("correct horse battery")


def test_sync_providers_creates_providers_from_the_sdk_variables(settings: Any) -> None:
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-openai-secret-1234", ""
    settings.OPENROUTER_API_KEY = "sk-or-secret-5678"
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/api/v1"
    output = run("sync_providers")
    assert "sk-" not in output  # provider keys are never printed
    openai_provider = Provider.objects.get(name="openai")
    assert openai_provider.base_url == "https://api.openai.com/v1"
    assert openai_provider.get_api_key() == "sk-openai-secret-1234"
    assert "secret" not in openai_provider.api_key_encrypted
    assert openai_provider.api_key_hint == "…1234"
    assert openai_provider.is_default and openai_provider.from_environment
    openrouter = Provider.objects.get(name="openrouter")
    assert openrouter.base_url == "http://127.0.0.1:9/api/v1" and not openrouter.is_default


def test_sync_providers_updates_instead_of_duplicating(settings: Any) -> None:
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-first-key-0001", ""
    run("sync_providers")
    settings.OPENAI_API_KEY = "sk-second-key-0002"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    run("sync_providers")
    (provider,) = Provider.objects.all()
    assert provider.get_api_key() == "sk-second-key-0002"
    assert provider.base_url == "http://127.0.0.1:9/v1"


def test_sync_providers_keeps_an_admin_chosen_default(settings: Any) -> None:
    Provider.objects.create(name="local", base_url="http://127.0.0.1:9/v1", is_default=True)
    settings.OPENAI_API_KEY = "sk-openai-secret-1234"
    run("sync_providers")
    assert Provider.objects.get(is_default=True).name == "local"


def test_sync_providers_does_nothing_without_variables(settings: Any) -> None:
    for name in ("OPENAI", "OPENROUTER", "ANTHROPIC"):
        setattr(settings, f"{name}_API_KEY", "")
        setattr(settings, f"{name}_BASE_URL", "")
    assert run("sync_providers") == ""
    assert not Provider.objects.exists()
