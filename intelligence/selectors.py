"""Reads: nearest neighbours by embedding (pgvector on PostgreSQL, numpy elsewhere),
pattern listings for the API and the command."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import QuerySet
from pgvector.django import CosineDistance

from intelligence.models import Pattern, PromptEmbedding, SemanticCacheEntry

CHUNK_ROWS = 1000  # rows compared at a time by `nearest` without pgvector


def uses_pgvector() -> bool:
    return connection.vendor == "postgresql"


def as_array(value: Any) -> np.ndarray:
    """A stored vector (pgvector's value, or its text form on SQLite) as float32."""
    if isinstance(value, str):
        value = [float(x) for x in value.strip("[]").split(",") if x]
    return np.asarray(value, dtype=np.float32)


def nearest(
    queryset: QuerySet[Any], vector: np.ndarray, *, limit: int = 1
) -> list[tuple[Any, float]]:
    """The rows nearest to `vector` by cosine similarity, best first: (row, similarity)."""
    if uses_pgvector():
        rows = queryset.annotate(distance=CosineDistance("vector", vector.tolist())).order_by(
            "distance"
        )[:limit]
        return [(row, 1.0 - float(row.distance)) for row in rows]
    query = vector.astype(np.float32)
    best: list[tuple[float, Any]] = []  # (similarity, pk), best first
    pks: list[Any] = []
    vectors: list[np.ndarray] = []
    # Compared CHUNK_ROWS at a time: memory stays flat however many rows are stored
    # (loading them all made the q cluster's worker grow with the table; bench/RESULTS.md).
    for pk, value in queryset.values_list("pk", "vector").iterator(chunk_size=CHUNK_ROWS):
        pks.append(pk)
        vectors.append(as_array(value))
        if len(pks) == CHUNK_ROWS:
            best = _best_of(best, pks, vectors, query, limit)
            pks, vectors = [], []
    if pks:
        best = _best_of(best, pks, vectors, query, limit)
    rows = queryset.model._default_manager.in_bulk([pk for _, pk in best])
    return [(rows[pk], similarity) for similarity, pk in best if pk in rows]


def _best_of(
    best: list[tuple[float, Any]],
    pks: list[Any],
    vectors: list[np.ndarray],
    query: np.ndarray,
    limit: int,
) -> list[tuple[float, Any]]:
    """The `limit` most similar of `best` and this chunk, best first."""
    similarities = np.vstack(vectors) @ query
    order = np.argsort(-similarities, kind="stable")[:limit]
    chunk = [(float(similarities[i]), pks[i]) for i in order]
    return sorted([*best, *chunk], key=lambda pair: -pair[0])[:limit]


def nearest_cache_entry(
    *,
    namespace_id: int,
    route_id: int,
    model: str,
    system_hash: str,
    vector: np.ndarray,
    newer_than: datetime,
) -> tuple[SemanticCacheEntry, float] | None:
    candidates = SemanticCacheEntry.objects.filter(
        namespace_id=namespace_id,
        route_id=route_id,
        model=model,
        system_hash=system_hash,
        created_at__gte=newer_than,
    )
    found = nearest(candidates, vector)
    return found[0] if found else None


def similar_prompts(
    *, namespace_id: int, vector: np.ndarray, limit: int = 5
) -> list[tuple[PromptEmbedding, float]]:
    return nearest(PromptEmbedding.objects.filter(namespace_id=namespace_id), vector, limit=limit)


def patterns_of(namespace_id: int) -> QuerySet[Pattern]:
    return Pattern.objects.filter(namespace_id=namespace_id).prefetch_related("versions")
