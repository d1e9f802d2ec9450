"""The category classifier: multinomial naive Bayes over hashed n-grams, in numpy.

Features are the embedder's (stemmed words, word bigrams, character 4-grams)
hashed into `FEATURES` buckets, without signs: counts for naive Bayes. Training
is counting; the model is stored as per-class sparse counts (`ClassifierState`)
and turned into log-probabilities when loaded. Naive Bayes is the classic
choice for few labelled examples (20 per class here): it needs no tuning and
trains in milliseconds.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from intelligence.services.embeddings import features

FEATURES = 1 << 15
ALPHA = 0.1  # Laplace smoothing


def feature_counts(text: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for feature, count in features(text).items():
        if feature.startswith("s:"):
            continue
        index = zlib.crc32(feature.encode()) % FEATURES
        out[index] = out.get(index, 0.0) + 1.0 + math.log(count)
    return out


@dataclass
class NaiveBayes:
    labels: list[str]
    log_prior: np.ndarray  # (classes,)
    log_likelihood: np.ndarray  # (classes, FEATURES)

    @classmethod
    def from_counts(
        cls, labels: list[str], counts: list[dict[int, float]], docs: list[int]
    ) -> NaiveBayes:
        matrix = np.full((len(labels), FEATURES), ALPHA, dtype=np.float64)
        for row, sparse in enumerate(counts):
            for index, value in sparse.items():
                matrix[row, int(index)] += value
        log_likelihood = np.log(matrix / matrix.sum(axis=1, keepdims=True)).astype(np.float32)
        total = sum(docs)
        log_prior = np.log(np.asarray(docs, dtype=np.float64) / total).astype(np.float32)
        return cls(labels, log_prior, log_likelihood)

    def predict(self, text: str) -> tuple[str, float]:
        """(label, confidence): the posterior probability of the chosen label."""
        sparse = feature_counts(text)
        scores = self.log_prior.astype(np.float64).copy()
        if sparse:
            indexes = np.fromiter(sparse.keys(), dtype=np.int64)
            values = np.fromiter(sparse.values(), dtype=np.float64)
            scores += self.log_likelihood[:, indexes].astype(np.float64) @ values
        scores -= scores.max()
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum()
        best = int(np.argmax(probabilities))
        return self.labels[best], float(probabilities[best])


def count_examples(
    examples: Iterable[tuple[str, str]],
) -> tuple[list[str], list[dict[int, float]], list[int]]:
    """(labels, per-label sparse feature counts, per-label document counts)."""
    by_label: dict[str, dict[int, float]] = {}
    docs: dict[str, int] = {}
    for text, label in examples:
        counts = by_label.setdefault(label, {})
        for index, value in feature_counts(text).items():
            counts[index] = counts.get(index, 0.0) + value
        docs[label] = docs.get(label, 0) + 1
    labels = sorted(by_label)
    return labels, [by_label[label] for label in labels], [docs[label] for label in labels]


def train(examples: Iterable[tuple[str, str]]) -> NaiveBayes:
    labels, counts, docs = count_examples(examples)
    if len(labels) < 1:
        raise ValueError("no labelled examples")
    return NaiveBayes.from_counts(labels, counts, docs)
