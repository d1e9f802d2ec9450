"""Redaction: replace spans with `[REDACTED:<label>]`, or with numbered
pseudonyms (`<EMAIL_1>`) that a `Restorer` puts back into the response.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PLACEHOLDER = re.compile(r"<([A-Z_]{2,40})_(\d{1,4})>")
LONGEST_PLACEHOLDER = 48


@dataclass
class Pseudonyms:
    """The placeholders of one request: the same value always gets the same placeholder."""

    by_value: dict[str, str] = field(default_factory=dict)
    by_placeholder: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def placeholder(self, label: str, value: str) -> str:
        if value in self.by_value:
            return self.by_value[value]
        tag = re.sub(r"[^A-Z_]", "_", label.upper())[:40]
        n = self.counts[tag] = self.counts.get(tag, 0) + 1
        placeholder = f"<{tag}_{n}>"
        self.by_value[value] = placeholder
        self.by_placeholder[placeholder] = value
        return placeholder


def merge_spans(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    merged: list[tuple[int, int, str]] = []
    for start, end, label in sorted(spans):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, label))
    return merged


def redact(
    text: str, spans: list[tuple[int, int, str]], pseudonyms: Pseudonyms | None = None
) -> str:
    out = []
    cursor = 0
    for start, end, label in merge_spans(spans):
        out.append(text[cursor:start])
        value = text[start:end]
        out.append(pseudonyms.placeholder(label, value) if pseudonyms else f"[REDACTED:{label}]")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


class Restorer:
    """A stream text filter that puts the original values back in place of placeholders.

    A placeholder split across chunks is held back until it is complete.
    """

    def __init__(self, pseudonyms: Pseudonyms) -> None:
        self.map = pseudonyms.by_placeholder
        self.pending = ""

    def _restore(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.map.get(m.group(0), m.group(0)), text)

    def feed(self, text: str) -> str:
        text = self.pending + text
        cut = text.rfind("<")
        if cut != -1 and ">" not in text[cut:] and len(text) - cut < LONGEST_PLACEHOLDER:
            self.pending, text = text[cut:], text[:cut]
        else:
            self.pending = ""
        return self._restore(text)

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return self._restore(rest)
