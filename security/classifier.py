"""A small statistical injection classifier: logistic regression over word
unigrams and bigrams of the normalised text, with Platt-calibrated output.

Pure Python (no numpy), trained by `manage.py security_train` from
`security/data/train.jsonl`; the weights live in `security/data/injection_model.json`.
A long text is read in overlapping windows and its probability is the highest window's.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from security import normalise

MODEL_PATH = Path(__file__).resolve().parent / "data" / "injection_model.json"
WINDOW = 64
TOKEN = re.compile(r"[a-z]+|[<>\[\]|#{}=]+")


def tokens(text: str, *, folded: bool = False) -> list[str]:
    return TOKEN.findall(text if folded else normalise.fold(text))


# Function words carry no signal alone (attacks are simply longer); they stay in bigrams.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "for",
        "with",
        "this",
        "that",
        "is",
        "are",
        "be",
        "it",
        "i",
        "you",
        "me",
        "my",
        "your",
        "we",
        "our",
        "as",
        "by",
        "from",
        "so",
        "if",
        "then",
        "than",
        "but",
        "not",
        "no",
        "do",
        "does",
        "can",
        "could",
        "would",
        "should",
        "will",
    ]
)


def features(toks: Sequence[str]) -> list[str]:
    """Distinct unigrams (function words left out) and bigrams."""
    feats = {t for t in toks if t not in STOPWORDS}
    feats.update(f"{a} {b}" for a, b in itertools.pairwise(toks))
    return list(feats)


@dataclass(frozen=True)
class Model:
    bias: float
    weights: dict[str, float]
    platt_a: float
    platt_b: float

    def logit_of_window(self, toks: Sequence[str]) -> float:
        if not toks:
            return self.bias
        w = self.weights
        feats = features(toks)
        total = sum(w.get(f, 0.0) for f in feats)
        return self.bias + total / math.sqrt(max(1, len(feats)))

    def calibrated(self, logit: float) -> float:
        z = self.platt_a * logit + self.platt_b
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def probability(self, text: str, *, folded: bool = False) -> float:
        toks = tokens(text, folded=folded)
        if len(toks) <= WINDOW:
            return self.calibrated(self.logit_of_window(toks))
        return self.calibrated(self.long_text_logit(toks))

    def long_text_logit(self, toks: Sequence[str]) -> float:
        """The highest logit over half-overlapping windows, in linear time.

        Per-position feature weights are summed with prefix sums; unlike short texts,
        a feature repeated inside one window counts each time (close enough, and fast).
        """
        get = self.weights.get
        # C-level iteration throughout: this runs over every token of a long prompt.
        unigram = list(map(get, toks, itertools.repeat(0.0)))  # stopwords have no weight
        bigram = [0.0, *map(get, map(" ".join, itertools.pairwise(toks)), itertools.repeat(0.0))]
        weight_sum = list(itertools.accumulate(map(operator.add, unigram, bigram), initial=0.0))
        # features per token: its bigram, and itself unless a stopword
        counted = map(operator.sub, itertools.repeat(2), map(STOPWORDS.__contains__, toks))
        count_sum = list(itertools.accumulate(counted, initial=0))
        step = WINDOW // 2
        best = -math.inf
        for start in range(0, max(1, len(toks) - step), step):
            end = min(len(toks), start + WINDOW)
            count = count_sum[end] - count_sum[start] - 1  # the first bigram reaches outside
            total = weight_sum[end] - weight_sum[start] - bigram[start]
            best = max(best, self.bias + total / math.sqrt(max(1, count)))
        return best

    def save(self, path: Path = MODEL_PATH) -> None:
        kept = {f: round(v, 4) for f, v in sorted(self.weights.items()) if abs(v) >= 0.005}
        payload = {
            "kind": "logreg-word-ngrams",
            "window": WINDOW,
            "bias": self.bias,
            "platt": [self.platt_a, self.platt_b],
            "weights": kept,
        }
        path.write_text(json.dumps(payload, separators=(",", ":"), sort_keys=True) + "\n")


@cache
def load(path: Path = MODEL_PATH) -> Model | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Model(
        bias=data["bias"],
        weights=data["weights"],
        platt_a=data["platt"][0],
        platt_b=data["platt"][1],
    )


def probability(text: str, *, folded: bool = False) -> float | None:
    """The calibrated injection probability, or None when no model is trained.

    `folded=True` when the caller already normalised the text (`normalise.fold`)."""
    model = load()
    return None if model is None else model.probability(text, folded=folded)


# --- training ------------------------------------------------------------------------------


def _fit(
    samples: list[tuple[list[str], int]], *, epochs: int, l2: float, rate: float, seed: int
) -> tuple[float, dict[str, float]]:
    rng = random.Random(seed)
    weights: dict[str, float] = {}
    bias = 0.0
    order = list(range(len(samples)))
    for epoch in range(epochs):
        rng.shuffle(order)
        step = rate / (1 + epoch * 0.2)
        for i in order:
            feats, label = samples[i]
            scale = 1.0 / math.sqrt(max(1, len(feats)))
            z = bias + scale * sum(weights.get(f, 0.0) for f in feats)
            p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
            g = p - label
            bias -= step * g
            for f in feats:
                w = weights.get(f, 0.0)
                weights[f] = w - step * (g * scale + l2 * w)
    return bias, weights


def _platt(logits: list[float], labels: list[int]) -> tuple[float, float]:
    """Fit p = sigmoid(a*z + b) by Newton-free gradient descent (Platt's smoothed targets)."""
    positives = sum(labels)
    negatives = len(labels) - positives
    hi, lo = (positives + 1) / (positives + 2), 1 / (negatives + 2)
    targets = [hi if y else lo for y in labels]
    a, b = 1.0, 0.0
    for _ in range(3000):
        ga = gb = 0.0
        for z, t in zip(logits, targets, strict=True):
            p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, a * z + b))))
            ga += (p - t) * z
            gb += p - t
        a -= 0.05 * ga / len(logits)
        b -= 0.05 * gb / len(logits)
    return a, b


def _samples(rows: Iterable[tuple[str, int]]) -> list[tuple[list[str], int]]:
    return [(features(tokens(text)[:WINDOW]), label) for text, label in rows]


def train(
    rows: list[tuple[str, int]],
    *,
    epochs: int = 12,
    l2: float = 1e-5,
    rate: float = 0.3,
    seed: int = 7,
) -> Model:
    """Train on (text, label) pairs; Platt calibration on two-fold out-of-fold logits."""
    samples = _samples(rows)
    rng = random.Random(seed)
    folds = [i % 2 for i in range(len(samples))]
    rng.shuffle(folds)
    oof_logits: list[float] = [0.0] * len(samples)
    for fold in (0, 1):
        part = [s for s, f in zip(samples, folds, strict=True) if f != fold]
        bias, weights = _fit(part, epochs=epochs, l2=l2, rate=rate, seed=seed + fold)
        interim = Model(bias, weights, 1.0, 0.0)
        for i, (text, _) in enumerate(rows):
            if folds[i] == fold:
                oof_logits[i] = interim.logit_of_window(tokens(text)[:WINDOW])
    a, b = _platt(oof_logits, [label for _, label in samples])
    bias, weights = _fit(samples, epochs=epochs, l2=l2, rate=rate, seed=seed)
    return Model(bias, weights, a, b)
