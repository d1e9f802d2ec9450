"""Measures for the bars: adjusted Rand index (template recovery) and paraphrase recall.

ARI is a few lines of counting (Hubert and Arabie, 1985); no scikit-learn needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from math import comb

import numpy as np


def adjusted_rand_index(truth: Sequence[Hashable], found: Sequence[Hashable]) -> float:
    if len(truth) != len(found):
        raise ValueError("both labelings must have the same length")
    n = len(truth)
    if n < 2:
        return 1.0
    pairs = sum(comb(c, 2) for c in Counter(zip(truth, found, strict=True)).values())
    truth_pairs = sum(comb(c, 2) for c in Counter(truth).values())
    found_pairs = sum(comb(c, 2) for c in Counter(found).values())
    expected = truth_pairs * found_pairs / comb(n, 2)
    maximum = (truth_pairs + found_pairs) / 2
    if maximum == expected:
        return 1.0
    return (pairs - expected) / (maximum - expected)


PARAPHRASES: tuple[tuple[str, str], ...] = (
    ("What is the capital of France?", "Tell me the capital city of France."),
    ("How do I reverse a list in Python?", "What's the way to reverse a Python list?"),
    ("Translate 'good morning' into Spanish.", "How do you say good morning in Spanish?"),
    (
        "Summarize this article about climate change.",
        "Give me a summary of this climate change article.",
    ),
    ("Write a haiku about the ocean.", "Compose a haiku about the sea and the ocean."),
    (
        "What are the health benefits of green tea?",
        "Is green tea good for your health? What benefits?",
    ),
    ("Explain how a neural network learns.", "How does a neural network learn? Explain."),
    ("Recommend a good book about history.", "Can you recommend a history book that is good?"),
    ("How many calories are in a banana?", "Calories in one banana: how many?"),
    ("What's the weather usually like in Lisbon in May?", "Typical May weather in Lisbon?"),
    ("Convert 100 Fahrenheit to Celsius.", "What is 100 degrees Fahrenheit in Celsius?"),
    ("Give me tips to sleep better at night.", "Tips for better sleep at night, please."),
    ("Write a SQL query to count users by country.", "SQL to count the users per country?"),
    ("What is the difference between TCP and UDP?", "TCP vs UDP: what is the difference?"),
    ("How do I bake sourdough bread?", "Steps to bake a sourdough bread loaf?"),
    ("Who wrote Pride and Prejudice?", "Pride and Prejudice was written by whom?"),
    ("Suggest a name for my bakery.", "What should I name my bakery? Suggestions?"),
    ("How can I improve my resume?", "Ways to improve a resume?"),
    ("Explain recursion with an example.", "What is recursion? Explain with an example."),
    (
        "What is the boiling point of water at altitude?",
        "At high altitude, what is water's boiling point?",
    ),
)


def paraphrase_recall(pairs: Sequence[tuple[str, str]] = PARAPHRASES) -> dict[str, float]:
    """Recall@1 of each paraphrase among all second halves, and the similarity spread."""
    from intelligence.services.embeddings import embed_many

    queries = embed_many([a for a, _ in pairs])
    documents = embed_many([b for _, b in pairs])
    similarity = queries @ documents.T
    diagonal = np.diag(similarity)
    off = similarity[~np.eye(len(pairs), dtype=bool)]
    return {
        "recall_at_1": float(np.mean(np.argmax(similarity, axis=1) == np.arange(len(pairs)))),
        "min_paraphrase_similarity": float(diagonal.min()),
        "mean_paraphrase_similarity": float(diagonal.mean()),
        "max_unrelated_similarity": float(off.max()),
    }
