"""Offline prompt embeddings: feature hashing into 256 dimensions, no model.

Features: lower-cased words (with a light suffix stemming, so "summarise" and
"summarising" meet), word bigrams, and character 4-grams inside words (so
"translate"/"translation" share most of their features). Each feature is
hashed with CRC-32 into one of `DIMENSIONS` buckets with a sign bit, counts are
damped (1 + log tf) and weighted (rarer, longer features weigh more), stop words
weigh little, and the vector is L2-normalised: cosine similarity is a dot
product. Deterministic in every process (CRC-32, not Python's salted `hash`).
See docs/patterns.md for why this and not MiniLM, and the measurements.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter

import numpy as np

DIMENSIONS = 256
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "me",
        "my",
        "your",
        "our",
        "we",
        "they",
        "please",
        "can",
        "could",
        "would",
        "will",
        "do",
        "does",
        "did",
        "so",
        "very",
        "just",
        "some",
        "any",
        "me",
        "us",
    ]
)
_SUFFIXES = ("ations", "ation", "ising", "izing", "ings", "ing", "ise", "ize", "ed", "es", "s")


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def features(text: str) -> Counter[str]:
    words = [stem(w) for w in _WORD.findall(text.lower())[:512]]
    counts: Counter[str] = Counter()
    content = [w for w in words if w not in _STOP]
    for word in content:
        counts["w:" + word] += 2
        padded = f"<{word}>"
        for i in range(len(padded) - 3):
            counts["c:" + padded[i : i + 4]] += 1
    for first, second in itertools.pairwise(content):
        counts["b:" + first + " " + second] += 1
    for word in words:
        if word in _STOP:
            counts["s:" + word] += 0.2  # type: ignore[assignment]
    return counts


def embed(text: str) -> np.ndarray:
    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    for feature, count in features(text).items():
        digest = zlib.crc32(feature.encode())
        sign = 1.0 if digest & 0x80000000 else -1.0
        vector[digest % DIMENSIONS] += (
            sign * (1.0 + math.log(count)) if count >= 1 else sign * count
        )
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def embed_many(texts: list[str]) -> np.ndarray:
    return np.vstack([embed(t) for t in texts]) if texts else np.zeros((0, DIMENSIONS), np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def prompt_for_embedding(body: dict) -> str:  # type: ignore[type-arg]
    """The user text of a chat body (system prompts are compared separately)."""
    from intelligence.services.templates import prompt_messages

    return "\n".join(text for role, text in prompt_messages(body) if role == "user")
