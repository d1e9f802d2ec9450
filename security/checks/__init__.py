"""Detectors as plug-ins.

Each module `security/checks/<name>.py` exposes:

    Params   a pydantic model of its typed parameters (the admin validates rules with it)
    detect(text: str, params: Params) -> list[Detection]

and is registered here by dotted path; nothing dispatches on detector names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CHECKS: dict[str, str] = {
    "injection": "security.checks.injection",
    "pii": "security.checks.pii",
    "secrets": "security.checks.secrets",
    "custom": "security.checks.custom",
}


@dataclass(frozen=True, slots=True)
class Detection:
    """One finding: which detector, what kind, how sure, where (offsets into the text)."""

    detector: str
    label: str
    score: float
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "label": self.label,
            "score": round(self.score, 4),
            "start": self.start,
            "end": self.end,
        }


class CheckParams(BaseModel):
    """Parameters every detector shares."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(
        default_factory=lambda: ["system", "user", "assistant", "tool", "function"],
        description="Message roles whose text this detector reads.",
    )


@cache
def get_check(name: str) -> ModuleType:
    if name not in CHECKS:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(sorted(CHECKS))}")
    return importlib.import_module(CHECKS[name])


def parse_params(name: str, raw: dict[str, Any] | None) -> BaseModel:
    """Validate a rule's parameters against its detector's model (raises ValueError)."""
    params: BaseModel = get_check(name).Params.model_validate(raw or {})
    return params
