"""A finding: what the detector reports, how severe it is, and how it reads.

`Finding` is the evidence of one anomaly (metric, window, observed and expected
totals, details); `describe` turns it into the one sentence that the admin, the
alerts and the reports show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Finding:
    subject: str  # "key:12" or "namespace:3"
    namespace_id: int
    key_id: int | None
    kind: str
    severity: str
    at: float
    metric: str
    window_minutes: int
    observed: float
    expected: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.observed / self.expected if self.expected > 0 else math.inf


def severity_for(kind: str, observed: float, relative: float) -> str:
    """`relative`: the observed total over the larger of expected and floor/min_ratio."""
    if kind == "new_clients":
        return "critical" if observed >= 8 else "high" if observed >= 5 else "medium"
    if relative >= 25:
        return "critical"
    if relative >= 10:
        return "high"
    if relative >= 4:
        return "medium"
    return "low"


def amount(metric: str, value: float) -> str:
    if metric == "cost":
        return f"${value:,.4f}"
    if value >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


METRIC_WORDS = {
    "requests": "request rate",
    "tokens": "token rate",
    "cost": "cost rate",
    "errors": "error rate",
    "security": "requests flagged by security",
    "new_clients": "new clients",
    "prompt_tokens": "prompt length",
}


def describe(finding: Finding, label: str) -> str:
    """One sentence of evidence: what changed, by how much, compared to what."""
    words = METRIC_WORDS.get(finding.metric, finding.metric)
    span = "minute" if finding.window_minutes == 1 else f"{finding.window_minutes} minutes"
    details = finding.details
    if finding.kind == "new_clients":
        ips, agents = details.get("new_ips", 0), details.get("new_agents", 0)
        parts = [f"{ips} new client IP{'s' if ips != 1 else ''}"]
        if agents:
            parts.append(f"{agents} new user agent{'s' if agents != 1 else ''}")
        text = f"{label}: {' and '.join(parts)} in the last {span} (usually {finding.expected:.2f})"
    elif finding.kind == "prompt_length":
        text = (
            f"{label}: mean prompt length {finding.observed:,.0f} tokens over "
            f"{details.get('requests', 0)} requests in the last {span}, "
            f"usually {finding.expected:,.0f}"
        )
    else:
        observed = amount(finding.metric, finding.observed)
        expected = amount(finding.metric, finding.expected)
        if finding.expected >= 0.05:
            how = f"{finding.ratio:.0f}× its usual {words}" if finding.ratio >= 2 else words
            text = f"{label}: {how} ({observed} in the last {span}, expected ≈{expected})"
        else:
            text = f"{label}: {observed} {words} in the last {span}, where it usually has none"
        if finding.kind == "off_hours":
            text += ", at an hour it is usually idle"
    if details.get("new_ips") and finding.kind != "new_clients":
        text += f", from {details['new_ips']} new IPs"
    if finding.kind == "new_clients" and details.get("ips"):
        text += ": " + ", ".join(details["ips"][:5])
        if details.get("agents"):
            text += " (" + ", ".join(details["agents"][:3]) + ")"
    return text
