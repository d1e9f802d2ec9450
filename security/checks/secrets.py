"""Secrets: provider keys with a known shape, private key blocks, JWTs, passwords
in connection strings, and high-entropy values assigned to secret-sounding names.

Named patterns only (no free-floating entropy rule), so ordinary prose is never
flagged; the generic rule needs an assignment (`api_key = ...`, `"token": "..."`).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from pydantic import Field

from security.checks import CheckParams, Detection

NAME = "secrets"

# (label, score, pattern, group): the span is the pattern's `group`.
# (label, score, pattern, group, gate): the span is the pattern's `group`; the pattern
# only runs when one of the gate's substrings occurs in the text (a cheap `in` test).
PATTERNS: list[tuple[str, float, re.Pattern[str], int, tuple[str, ...]]] = [
    (
        "anthropic_key",
        0.99,
        re.compile(r"\bsk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{20,}"),
        0,
        ("sk-ant-",),
    ),
    (
        "openai_key",
        0.99,
        re.compile(r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"),
        0,
        ("sk-",),
    ),
    ("openai_key", 0.97, re.compile(r"\bsk-(?!ant-)[A-Za-z0-9]{32,}\b"), 0, ("sk-",)),
    (
        "aws_access_key",
        0.98,
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),
        0,
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
    ),
    (
        "aws_secret_key",
        0.97,
        re.compile(
            r"(?i)aws_?secret_?(?:access_?)?key['\"]?\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})\b"
        ),
        1,
        ("secret", "SECRET", "Secret"),
    ),
    ("google_api_key", 0.98, re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), 0, ("AIza",)),
    ("google_oauth_token", 0.95, re.compile(r"\bya29\.[0-9A-Za-z_-]{30,}"), 0, ("ya29.",)),
    (
        "azure_storage_key",
        0.97,
        re.compile(r"AccountKey=([A-Za-z0-9+/]{80,}={0,2})"),
        1,
        ("AccountKey=",),
    ),
    ("azure_sas_token", 0.9, re.compile(r"[?&]sig=([A-Za-z0-9%+/]{40,}={0,2})"), 1, ("sig=",)),
    (
        "github_token",
        0.99,
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b"),
        0,
        ("gh", "github_pat_"),
    ),
    ("gitlab_token", 0.98, re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), 0, ("glpat-",)),
    ("slack_token", 0.98, re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 0, ("xox",)),
    (
        "slack_webhook",
        0.97,
        re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
        0,
        ("hooks.slack.com",),
    ),
    (
        "stripe_key",
        0.99,
        re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}\b"),
        0,
        ("_live_", "_test_"),
    ),
    ("twilio_key", 0.95, re.compile(r"\bSK[0-9a-f]{32}\b"), 0, ("SK",)),
    (
        "sendgrid_key",
        0.99,
        re.compile(r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),
        0,
        ("SG.",),
    ),
    ("huggingface_token", 0.98, re.compile(r"\bhf_[A-Za-z0-9]{34,}\b"), 0, ("hf_",)),
    ("npm_token", 0.98, re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), 0, ("npm_",)),
    ("pypi_token", 0.98, re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"), 0, ("pypi-",)),
    (
        "private_key",
        0.99,
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
            re.S,
        ),
        0,
        ("PRIVATE KEY",),
    ),
    (
        "jwt",
        0.95,
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        0,
        ("eyJ",),
    ),
    (
        "connection_string_password",
        0.95,
        re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,64}:([^\s@/]{3,128})@[\w.-]+"),
        1,
        ("://",),
    ),
]

ASSIGNMENT = re.compile(
    r"(?i)\b[\w.-]*(?:password|passwd|pwd|secret|token|api_?key|apikey|access_?key|auth_?key|client_?secret|private_?key|credentials?)[\w.-]*['\"]?\s*(?::=|=>|[:=])\s*['\"]?([^\s'\",;]{8,})"
)
PLACEHOLDER = re.compile(
    r"(?i)^(?:[*x.<>{}$_-]+|your[_-].*|<.*>|\$\{.*\}|%\(.*\)s|\{\{.*\}\}|changeme|example.*|placeholder|redacted|none|null|true|false|os\.environ.*|env\(.*|getenv.*|process\.env.*|settings\..*|config\..*|self\..*)$"
)


class Params(CheckParams):
    types: list[str] = Field(
        default_factory=list, description="Secret types to look for (empty: all)."
    )
    generic_assignments: bool = Field(
        default=True, description="High-entropy values assigned to secret-like names."
    )
    min_entropy: float = Field(
        default=3.0, ge=0, le=8, description="Bits per character for the generic rule."
    )


def entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


ASSIGNMENT_GATE = ("pass", "pwd", "secret", "token", "key", "credential", "auth")


def _generic(text: str, min_entropy: float) -> list[Detection]:
    found: list[Detection] = []
    lowered = text.lower()
    if not any(g in lowered for g in ASSIGNMENT_GATE):
        return found
    for m in ASSIGNMENT.finditer(text):
        value = m.group(1)
        if PLACEHOLDER.match(value) or (value.isalpha() and value.islower()):
            continue
        if entropy(value) >= min_entropy and any(not c.isalpha() for c in value):
            found.append(Detection(NAME, "generic_secret", 0.8, m.start(1), m.end(1)))
    return found


def detect(text: str, params: Params) -> list[Detection]:
    found: list[Detection] = []
    wanted = set(params.types)
    for label, score, pattern, group, gate in PATTERNS:
        if (wanted and label not in wanted) or not any(g in text for g in gate):
            continue
        for m in pattern.finditer(text):
            found.append(Detection(NAME, label, score, m.start(group), m.end(group)))
    if params.generic_assignments and (not wanted or "generic_secret" in wanted):
        found.extend(_generic(text, params.min_entropy))
    return first_of_overlaps(found)


def first_of_overlaps(found: list[Detection]) -> list[Detection]:
    """Keep the highest-scoring finding where spans overlap."""
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: (-d.score, d.start)):
        if all(d.end <= k.start or d.start >= k.end for k in kept):
            kept.append(d)
    return sorted(kept, key=lambda d: d.start)
