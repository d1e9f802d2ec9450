"""The config file's schema (pydantic), one model per section.

Each spec's *plain* fields have the same name as a field of its Django model and
are copied as they are; the fields in `RELATIONS` are handled by the loader
(names, secrets, nested rows). Adding a model field to the file (a budget, a
rate limit) is one line here: declare it on the spec with the same name.

A field left out of the file is left as it is in the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG = r"^[-a-zA-Z0-9_]+$"
PLACEHOLDER = "<set in admin>"
ENV_PREFIX = "env:"


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    RELATIONS: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def plain_fields(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in cls.RELATIONS]

    def plain_values(self) -> dict[str, Any]:
        """The plain fields the file sets (left-out fields are not touched)."""
        names = [name for name in self.plain_fields() if name in self.model_fields_set]
        return {name: getattr(self, name) for name in names}


class ProviderSpec(Spec):
    RELATIONS = frozenset({"name", "api_key"})

    name: str = Field(pattern=SLUG, max_length=64)
    kind: str = "openai"
    base_url: str = Field(default="", max_length=500, description="Required for a new provider.")
    api_key: str | None = Field(
        default=None,
        description=f"`env:VAR`, the key itself, or {PLACEHOLDER!r} (left as it is).",
    )
    is_default: bool = False
    enabled: bool = True
    timeout_seconds: float | None = Field(default=None, gt=0)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    model_names: list[str] = Field(default_factory=list)
    allow_private_network: bool = Field(
        default=False,
        description="Allow a base URL on a private, loopback or link-local address (SSRF guard).",
    )

    @field_validator("kind")
    @classmethod
    def known_kind(cls, kind: str) -> str:
        from proxy.providers import ADAPTERS

        if kind not in ADAPTERS:
            raise ValueError(
                f"unknown provider kind {kind!r}; known: {', '.join(sorted(ADAPTERS))}"
            )
        return kind

    @field_validator("base_url")
    @classmethod
    def http_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return url

    @field_validator("api_key")
    @classmethod
    def env_reference_has_a_name(cls, value: str | None) -> str | None:
        if value is not None and value.startswith(ENV_PREFIX) and not value[len(ENV_PREFIX) :]:
            raise ValueError("`env:` must be followed by a variable name, e.g. env:OPENAI_API_KEY")
        return value


class TargetSpec(Spec):
    RELATIONS = frozenset({"provider"})

    provider: str
    model: str = Field(min_length=1, max_length=200)
    weight: int = Field(default=1, ge=0)
    priority: int = Field(default=0, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)


class RouteSpec(Spec):
    RELATIONS = frozenset({"alias", "namespace", "targets"})

    alias: str = Field(min_length=1, max_length=200)
    namespace: str | None = Field(default=None, description="Empty: a global route.")
    strategy: Literal["single", "weighted", "fallback"] = "single"
    enabled: bool = True
    cache_enabled: bool = False
    cache_ttl_seconds: int | None = Field(default=None, gt=0)
    targets: list[TargetSpec] = Field(default_factory=list)


class KeySpec(Spec):
    RELATIONS = frozenset({"name"})

    name: str = Field(min_length=1, max_length=100)
    state: Literal["active", "suspended", "revoked"] = "active"
    allowed_models: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def aware(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is UTC."""
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


class NamespaceSpec(Spec):
    RELATIONS = frozenset({"name", "keys"})

    name: str = Field(pattern=SLUG, max_length=64)
    description: str = ""
    keys: list[KeySpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def key_names_are_unique(self) -> NamespaceSpec:
        _unique([key.name for key in self.keys], "key name")
        return self


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    providers: list[ProviderSpec] = Field(default_factory=list)
    namespaces: list[NamespaceSpec] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def names_are_unique(self) -> ConfigFile:
        _unique([p.name for p in self.providers], "provider name")
        _unique([n.name for n in self.namespaces], "namespace name")
        _unique([f"{r.namespace or '(global)'}:{r.alias}" for r in self.routes], "route")
        if sum(1 for p in self.providers if p.is_default) > 1:
            raise ValueError("at most one provider may have is_default: true")
        return self


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} {name!r}")
        seen.add(name)
