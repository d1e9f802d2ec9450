"""`redact_for_external(text) -> text`: what leaves the gateway for Claude is redacted first.

THE SEAM for the integrator: if the security app provides
`security.redaction.redact_for_external(text) -> str` (the security policy's
redaction, applied to free text), it is used. Until then a conservative built-in
redactor replaces e-mail addresses, API keys and bearer tokens, card-like and
phone-like digit runs, IP addresses and long hex or base64 secrets with
`[REDACTED:<kind>]`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.utils.module_loading import import_string

SECURITY_REDACTOR = "security.redaction.redact_for_external"

BUILT_IN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("key", re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}")),
    ("key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]{16,}")),
    ("email", re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    ("ip", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    ("card", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
    ("phone", re.compile(r"(?<!\w)\+?\d[\d ()\-.]{7,}\d(?!\w)")),
    ("secret", re.compile(r"\b[A-Fa-f0-9]{32,}\b|\b[A-Za-z0-9+/]{40,}={0,2}")),
)


def built_in_redact(text: str) -> str:
    for kind, pattern in BUILT_IN:
        text = pattern.sub(f"[REDACTED:{kind}]", text)
    return text


def _security_redactor() -> Callable[[str], str] | None:
    try:
        return import_string(SECURITY_REDACTOR)  # type: ignore[no-any-return]
    except ImportError:
        return None


def redact_for_external(text: str) -> str:
    redactor = _security_redactor()
    return redactor(text) if redactor is not None else built_in_redact(text)
