"""Measuring the detectors on the project's held-out evaluation files (security/data/).

Injection: recall on attacks, false-positive rate on ordinary prompts (the eval
seeds plus 1,000 template prompts), for rules only, classifier only and both.
PII: span-exact precision and recall per structured type. Secrets: recall per
type, and the number of the 1,000 ordinary prompts with any flag.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from security import classifier
from security.checks import injection, pii, secrets
from security.checks.injection import rule_hits

DATA = Path(__file__).resolve().parent / "data"


def read_jsonl(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass(frozen=True)
class Figures:
    detector: str
    label: str
    precision: float | None
    recall: float | None
    fpr: float | None
    support: int

    def row(self) -> str:
        def pct(value: float | None) -> str:
            return "   -  " if value is None else f"{value * 100:5.1f}%"

        return f"{self.detector:<10} {self.label:<28} {pct(self.precision)} {pct(self.recall)} {pct(self.fpr)} {self.support:>6}"


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def injection_figures(threshold: float = 0.5) -> list[Figures]:
    rows = read_jsonl("injection_eval.jsonl")
    benign = [r["text"] for r in rows if r["label"] == 0] + [
        r["text"] for r in read_jsonl("benign_1000.jsonl")
    ]
    attacks = [r["text"] for r in rows if r["label"] == 1]

    def rules(text: str) -> float:
        return max((d.score for d in rule_hits(text)), default=0.0)

    def model(text: str) -> float:
        return classifier.probability(text) or 0.0

    def both(text: str) -> float:
        params = injection.Params()
        return max((d.score for d in injection.detect(text, params)), default=0.0)

    out = []

    def model_at_cut(text: str) -> float:
        probability = model(text)
        return probability if probability >= injection.Params().classifier_min else 0.0

    detectors = (
        ("rules", rules),
        ("classifier p>=0.5", model),
        ("classifier p>=classifier_min", model_at_cut),
        ("rules+classifier (default)", both),
    )
    for name, score in detectors:
        tp = sum(score(t) >= threshold for t in attacks)
        fp = sum(score(t) >= threshold for t in benign)
        out.append(
            Figures(
                "injection",
                name,
                _ratio(tp, tp + fp),
                _ratio(tp, len(attacks)),
                _ratio(fp, len(benign)),
                len(attacks),
            )
        )
    return out


def pii_figures() -> list[Figures]:
    params = pii.Params(types=["email", "phone", "card", "iban", "ssn", "ip"])
    truth: Counter[str] = Counter()
    found: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for row in read_jsonl("pii_eval.jsonl"):
        expected = {(s["label"], s["start"], s["end"]) for s in row["spans"]}
        got = {(d.label, d.start, d.end) for d in pii.detect(row["text"], params)}
        truth.update(label for label, _, _ in expected)
        found.update(label for label, _, _ in got)
        correct.update(label for label, _, _ in expected & got)
    return [
        Figures(
            "pii",
            label,
            _ratio(correct[label], found[label]),
            _ratio(correct[label], truth[label]),
            None,
            truth[label],
        )
        for label in sorted(truth)
    ]


def secrets_figures() -> list[Figures]:
    params = secrets.Params()
    truth: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    for row in read_jsonl("secrets_eval.jsonl"):
        truth[row["label"]] += 1
        if any(d.label == row["label"] for d in secrets.detect(row["text"], params)):
            hit[row["label"]] += 1
    out = [
        Figures("secrets", label, None, _ratio(hit[label], truth[label]), None, truth[label])
        for label in sorted(truth)
    ]
    benign = read_jsonl("benign_1000.jsonl")
    flagged = sum(bool(secrets.detect(r["text"], params)) for r in benign)
    out.append(
        Figures(
            "secrets",
            "flags on ordinary prompts",
            None,
            None,
            _ratio(flagged, len(benign)),
            len(benign),
        )
    )
    total = sum(truth.values())
    out.append(Figures("secrets", "all types", None, _ratio(sum(hit.values()), total), None, total))
    return out


def all_figures() -> list[Figures]:
    return [*injection_figures(), *pii_figures(), *secrets_figures()]


HEADER = f"{'detector':<10} {'label':<28} {'prec.':>6} {'recall':>6} {'FPR':>6} {'n':>6}"
