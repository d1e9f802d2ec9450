"""Declarative config: `apply_config` and `export_config`, driven through call_command."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from proxy.models import ApiKey, ConfigVersion, Namespace, Provider, Route

FULL = """\
providers:
  - name: openai
    base_url: https://api.openai.com/v1
    api_key: env:TEST_OPENAI_KEY
    is_default: true
    model_names: [gpt-4o-mini]
  - name: local
    base_url: http://127.0.0.1:11434/v1
    timeout_seconds: 30
namespaces:
  - name: team-a
    description: The A team
    keys:
      - name: ci
        allowed_models: [fast]
        expires_at: 2030-01-01T00:00:00Z
  - name: team-b
routes:
  - alias: fast
    strategy: fallback
    cache_enabled: true
    cache_ttl_seconds: 600
    targets:
      - provider: openai
        model: gpt-4o-mini
      - provider: local
        model: llama3
        priority: 1
        timeout_seconds: 20
  - alias: private
    namespace: team-b
    targets:
      - provider: local
        model: qwen
"""


@pytest.fixture(autouse=True)
def openai_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-from-the-environment-1234")
    return "sk-from-the-environment-1234"


def write(tmp_path: Path, text: str, name: str = "llmproxy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def apply(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue()


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export_config", *args, stdout=out)
    return out.getvalue()


def config_version() -> int:
    row = ConfigVersion.objects.filter(pk=1).first()
    return row.version if row else 0


@pytest.mark.django_db
def test_apply_creates_everything_and_prints_a_summary(tmp_path: Path) -> None:
    output = apply(write(tmp_path, FULL))
    assert "providers: 2 created, 0 updated, 0 unchanged" in output
    assert "namespaces: 2 created, 0 updated, 0 unchanged" in output
    assert "keys: 1 created, 0 updated, 0 unchanged" in output
    assert "routes: 2 created, 0 updated, 0 unchanged" in output
    openai = Provider.objects.get(name="openai")
    assert openai.get_api_key() == "sk-from-the-environment-1234"
    assert openai.api_key_env == "TEST_OPENAI_KEY" and openai.is_default
    assert Provider.objects.get(name="local").timeout_seconds == 30
    fast = Route.objects.get(alias="fast", namespace=None)
    assert fast.strategy == "fallback" and fast.cache_enabled and fast.cache_ttl_seconds == 600
    assert [(t.provider.name, t.model, t.priority) for t in fast.targets.all()] == [
        ("openai", "gpt-4o-mini", 0),
        ("local", "llama3", 1),
    ]
    assert Route.objects.get(alias="private").namespace == Namespace.objects.get(name="team-b")
    key = ApiKey.objects.get(name="ci")
    assert key.allowed_models == ["fast"] and key.expires_at.year == 2030


@pytest.mark.django_db
def test_a_new_key_is_created_and_its_secret_printed_once(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    output = apply(path)
    secret = output.strip().splitlines()[-1]
    assert "New key team-a/ci; it is shown once" in output
    assert ApiKey.objects.get(name="ci").key_hash == ApiKey.hash_secret(secret)
    again = apply(path)
    assert secret not in again and "New key" not in again
    assert ApiKey.objects.filter(name="ci").count() == 1


@pytest.mark.django_db
def test_applying_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    apply(path)
    version = config_version()
    output = apply(path)
    assert "Nothing to change." in output
    assert "providers: 0 created, 0 updated, 2 unchanged" in output
    assert "routes: 0 created, 0 updated, 2 unchanged" in output
    assert config_version() == version, "an unchanged apply still wrote rows"


@pytest.mark.django_db
def test_a_changed_field_updates_that_row_only(tmp_path: Path) -> None:
    apply(write(tmp_path, FULL))
    changed = FULL.replace("cache_ttl_seconds: 600", "cache_ttl_seconds: 60").replace(
        "model: qwen", "model: qwen2"
    )
    output = apply(write(tmp_path, changed))
    assert "updated route fast (cache_ttl_seconds)" in output
    assert "updated route team-b:private (targets)" in output
    assert "routes: 0 created, 2 updated, 0 unchanged" in output
    assert "providers: 0 created, 0 updated, 2 unchanged" in output
    assert Route.objects.get(alias="fast").cache_ttl_seconds == 60
    assert [t.model for t in Route.objects.get(alias="private").targets.all()] == ["qwen2"]


@pytest.mark.django_db
def test_targets_listed_in_another_order_are_unchanged(tmp_path: Path) -> None:
    apply(write(tmp_path, FULL))
    data = yaml.safe_load(FULL)
    data["routes"][0]["targets"].reverse()
    assert "Nothing to change." in apply(write(tmp_path, yaml.safe_dump(data)))


@pytest.mark.django_db
def test_fields_left_out_of_the_file_are_left_as_they_are(tmp_path: Path) -> None:
    apply(write(tmp_path, FULL))
    Route.objects.filter(alias="fast").update(strategy="weighted")
    minimal = "routes:\n  - alias: fast\n    cache_enabled: false\n"
    apply(write(tmp_path, minimal))
    fast = Route.objects.get(alias="fast")
    assert fast.strategy == "weighted" and not fast.cache_enabled
    assert fast.targets.count() == 2


@pytest.mark.django_db
def test_an_existing_key_is_matched_by_name_and_its_settings_updated(tmp_path: Path) -> None:
    from tests.conftest import make_key

    secret, key = make_key(namespace="team-a", name="ci")
    output = apply(write(tmp_path, FULL.replace("allowed_models: [fast]", "state: suspended")))
    assert "keys: 0 created, 1 updated, 0 unchanged" in output
    assert "New key" not in output
    key.refresh_from_db()
    assert key.state == "suspended" and key.key_hash == ApiKey.hash_secret(secret)


@pytest.mark.django_db
def test_a_revoked_key_is_never_reactivated(tmp_path: Path) -> None:
    from proxy.services.keys import api_key_revoke
    from tests.conftest import make_key

    _, key = make_key(namespace="team-a", name="ci")
    api_key_revoke(key=key)
    with pytest.raises(CommandError, match=r"llmproxy.yaml:14: namespaces\[0\]\.keys\[0\]\.name"):
        apply(write(tmp_path, FULL))
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_two_active_keys_with_one_name_are_ambiguous(tmp_path: Path) -> None:
    from tests.conftest import make_key

    make_key(namespace="team-a", name="ci")
    make_key(namespace="team-a", name="ci")
    with pytest.raises(CommandError, match="2 active keys are named 'ci'"):
        apply(write(tmp_path, FULL))


@pytest.mark.django_db
def test_a_default_provider_in_the_file_takes_over_the_default(tmp_path: Path) -> None:
    Provider.objects.create(name="old", base_url="http://127.0.0.1:1/v1", is_default=True)
    output = apply(write(tmp_path, FULL))
    assert "updated provider old (is_default)" in output
    assert list(Provider.objects.filter(is_default=True).values_list("name", flat=True)) == [
        "openai"
    ]


# --- secrets ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_env_reference_is_exported_as_the_reference(tmp_path: Path) -> None:
    apply(write(tmp_path, FULL))
    text = export()
    assert "api_key: env:TEST_OPENAI_KEY" in text
    assert "sk-from-the-environment-1234" not in text


@pytest.mark.django_db
def test_a_changed_environment_variable_updates_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, FULL)
    apply(path)
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-rotated-5678")
    assert "updated provider openai (api_key)" in apply(path)
    assert Provider.objects.get(name="openai").get_api_key() == "sk-rotated-5678"


@pytest.mark.django_db
def test_secrets_are_never_exported_in_clear(tmp_path: Path) -> None:
    from tests.conftest import make_key

    provider = Provider(name="admin-made", base_url="https://example.com/v1")
    provider.set_api_key("sk-typed-in-the-admin-9999")
    provider.save()
    secret, key = make_key(namespace="team-a", name="ci")
    path = tmp_path / "export.yaml"
    export("--output", str(path))
    text = path.read_text()
    assert "sk-typed-in-the-admin-9999" not in text and "9999" not in text
    assert "api_key: <set in admin>" in text
    assert secret not in text and key.key_hash not in text and key.prefix not in text
    assert oct(path.stat().st_mode)[-3:] == "600"


@pytest.mark.django_db
def test_the_placeholder_leaves_the_key_as_it_is(tmp_path: Path) -> None:
    provider = Provider(name="admin-made", base_url="https://example.com/v1")
    provider.set_api_key("sk-typed-in-the-admin-9999")
    provider.save()
    path = tmp_path / "export.yaml"
    export("--output", str(path))
    assert "Nothing to change." in apply(path)
    assert Provider.objects.get(name="admin-made").get_api_key() == "sk-typed-in-the-admin-9999"


@pytest.mark.django_db
def test_a_provider_synced_from_the_environment_exports_its_variable(settings: Any) -> None:
    from proxy.services.providers import providers_sync_from_env

    settings.OPENAI_API_KEY = "sk-env-synced-4321"
    providers_sync_from_env()
    text = export()
    assert "api_key: env:OPENAI_API_KEY" in text and "sk-env-synced-4321" not in text


# --- round trip -----------------------------------------------------------------------


@pytest.mark.django_db
def test_applying_an_export_reproduces_the_state(tmp_path: Path) -> None:
    apply(write(tmp_path, FULL))
    first = export()
    assert "Nothing to change." in apply(write(tmp_path, first, "export.yaml"))
    for model in (Route, ApiKey, Namespace, Provider):
        model.objects.all().delete()
    output = apply(write(tmp_path, first, "export.yaml"))
    assert "routes: 2 created" in output and "keys: 1 created" in output
    assert export() == first


# --- validation -----------------------------------------------------------------------

BAD = """\
providers:
  - name: openai
    base_url: ftp://example.com
    colour: blue
routes:
  - alias: fast
    strategy: round-robin
    targets:
      - provider: openai
        model: m
        weight: -1
"""


@pytest.mark.django_db
def test_schema_errors_name_the_line_and_field(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        apply(write(tmp_path, BAD))
    message = str(caught.value)
    assert "nothing changed" in message
    assert "llmproxy.yaml:3: providers[0].base_url: base_url must start with http" in message
    assert "llmproxy.yaml:4: providers[0].colour: Extra inputs are not permitted" in message
    assert "llmproxy.yaml:7: routes[0].strategy: Input should be 'single'" in message
    assert "llmproxy.yaml:11: routes[0].targets[0].weight: Input should be greater" in message


@pytest.mark.django_db
def test_reference_errors_are_found_before_anything_is_written(tmp_path: Path) -> None:
    text = FULL.replace("env:TEST_OPENAI_KEY", "env:NOT_SET_ANYWHERE").replace(
        "namespace: team-b", "namespace: ghost"
    )
    with pytest.raises(CommandError) as caught:
        apply(write(tmp_path, text))
    message = str(caught.value)
    assert (
        "llmproxy.yaml:4: providers[0].api_key: the environment variable 'NOT_SET_ANYWHERE'"
        in message
    )
    assert "routes[1].namespace: no namespace 'ghost'" in message
    assert not Provider.objects.exists() and not Namespace.objects.exists()


@pytest.mark.django_db
def test_duplicates_and_bad_yaml_are_rejected(tmp_path: Path) -> None:
    twice = "providers:\n  - {name: a, base_url: 'http://x'}\n  - {name: a, base_url: 'http://y'}\n"
    with pytest.raises(CommandError, match="duplicate provider name 'a'"):
        apply(write(tmp_path, twice))
    with pytest.raises(CommandError, match=r"llmproxy.yaml:2: not valid YAML"):
        apply(write(tmp_path, "providers: [\n  - x\n"))
    with pytest.raises(CommandError, match="cannot read the file"):
        apply(tmp_path / "missing.yaml")


@pytest.mark.django_db
def test_a_dry_run_reports_and_writes_nothing(tmp_path: Path) -> None:
    output = apply(write(tmp_path, FULL), "--dry-run")
    assert "routes: 2 created" in output and "Dry run" in output
    assert "lp-" not in output
    assert not Route.objects.exists() and not ApiKey.objects.exists()


def test_a_route_applied_from_a_file_serves_requests_with_its_cache(
    gateway: Any, tmp_path: Path
) -> None:
    text = (
        "routes:\n"
        "  - alias: from-file\n"
        f"    namespace: {gateway.namespace.name}\n"
        "    cache_enabled: true\n"
        "    targets:\n"
        "      - {provider: fake, model: upstream-model}\n"
    )
    apply(write(tmp_path, text))
    client = gateway.openai()
    messages = [{"role": "user", "content": "configured"}]
    first = client.chat.completions.with_raw_response.create(model="from-file", messages=messages)
    second = client.chat.completions.with_raw_response.create(model="from-file", messages=messages)
    assert first.headers["x-llmproxy-cache"] == "miss"
    assert second.headers["x-llmproxy-cache"] == "hit"
    assert [r["json"]["model"] for r in gateway.fake.requests] == ["upstream-model"]


@pytest.mark.django_db
def test_an_empty_api_key_removes_the_stored_key(tmp_path: Path) -> None:
    apply(write(tmp_path, FULL))
    output = apply(write(tmp_path, FULL.replace("env:TEST_OPENAI_KEY", "''")))
    assert "updated provider openai (api_key)" in output
    provider = Provider.objects.get(name="openai")
    assert provider.get_api_key() == "" and provider.api_key_env == ""
    assert "api_key: null" in export()


@pytest.mark.django_db
def test_a_new_provider_needs_a_base_url_but_an_update_does_not(tmp_path: Path) -> None:
    with pytest.raises(
        CommandError,
        match=r"llmproxy.yaml:2: providers\[0\]\.name: a new provider needs a base_url",
    ):
        apply(write(tmp_path, "providers:\n  - name: fresh\n    enabled: false\n"))
    apply(write(tmp_path, FULL))
    apply(write(tmp_path, "providers:\n  - name: local\n    enabled: false\n"))
    local = Provider.objects.get(name="local")
    assert not local.enabled and local.base_url == "http://127.0.0.1:11434/v1"


def test_an_applied_file_is_audited_without_its_secrets(tmp_path: Path) -> None:
    from security.models import AuditEntry

    path = tmp_path / "llmproxy.yaml"
    path.write_text(
        "providers:\n"
        "  - name: up\n"
        "    kind: openai\n"
        "    base_url: https://api.example.com/v1\n"
        "    api_key: sk-very-secret-value-1234\n"
        "namespaces:\n"
        "  - name: audited-team\n"
    )
    call_command("apply_config", str(path), stdout=io.StringIO())
    entry = AuditEntry.objects.get(action="config.apply")
    assert entry.actor == "config:apply_config"
    assert any("audited-team" in change for change in entry.data["changes"])
    assert "sk-very-secret" not in str(entry.data)
    call_command("apply_config", str(path), stdout=io.StringIO())  # unchanged: nothing to audit
    assert AuditEntry.objects.filter(action="config.apply").count() == 1
