"""Prompt injection and jailbreak: normalisation, family rules, and a classifier.

Score = the highest of the rule hits (on every normalised view of the text) and
the classifier's calibrated probability. Ordinary prompts that merely discuss
attacks are damped (see `injection_rules.DISCUSSION`).
"""

from __future__ import annotations

import re

from pydantic import Field

from security import classifier, normalise
from security.checks import CheckParams, Detection
from security.checks.injection_rules import DISCUSSION, DISCUSSION_CUES, DISCUSSION_SCORE, RULES

NAME = "injection"


class Params(CheckParams):
    roles: list[str] = Field(
        default_factory=lambda: ["user", "tool", "function"],
        description="Roles read: user text and tool results (indirect injection).",
    )
    use_rules: bool = True
    use_classifier: bool = True
    classifier_min: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="The classifier reports a text from this probability on (0.75: ~1% false "
        "positives on ordinary prompts in security_eval).",
    )
    families: list[str] = Field(
        default_factory=list, description="Rule families to use (empty: all)."
    )


def detect(text: str, params: Params) -> list[Detection]:
    if not text:
        return []
    found: list[Detection] = []
    readings = normalise.views(text)
    if params.use_rules:
        found.extend(rule_hits(text, params.families, readings))
    if params.use_classifier:
        probability = classifier.probability(readings[0], folded=True)
        if probability is not None and probability >= params.classifier_min:
            found.append(Detection(NAME, "classifier", probability, 0, len(text)))
    return found


# Everything but ASCII letters separates words (for the rule gates).
WORD_SPLIT = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalpha()})
PLAIN_WORD = re.compile(r"^[a-z]+$")
# Each rule's gate, split once: words (set lookups) and other entries (substring tests).
GATES = [
    (
        frozenset(g for g in gate if PLAIN_WORD.match(g)),
        tuple(g for g in gate if not PLAIN_WORD.match(g)),
    )
    for _, _, _, gate in RULES
]


def gate_open(index: int, reading: str, words: set[str]) -> bool:
    gate_words, substrings = GATES[index]
    return not gate_words.isdisjoint(words) or any(g in reading for g in substrings)


def rule_hits(
    text: str, families: list[str] | None = None, readings: list[str] | None = None
) -> list[Detection]:
    readings = readings or normalise.views(text)
    same_length = len(readings[0]) == len(text)
    first = readings[0]
    discussing = (
        any(cue in first for cue in DISCUSSION_CUES) and DISCUSSION.search(first) is not None
    )
    words = [set(r.translate(WORD_SPLIT).split()) for r in readings]
    best: dict[str, Detection] = {}
    for number, (label, score, pattern, _) in enumerate(RULES):
        if families and label not in families:
            continue
        if label in best and best[label].score >= score:
            continue
        for index, reading in enumerate(readings):
            if not gate_open(number, reading, words[index]):
                continue
            match = pattern.search(reading)
            if match is None:
                continue
            start, end = (
                (match.start(), match.end()) if index == 0 and same_length else (0, len(text))
            )
            value = min(score, DISCUSSION_SCORE) if discussing else score
            best[label] = Detection(NAME, label, value, start, end)
            break
    return list(best.values())
