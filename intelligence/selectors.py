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
    rows = list(queryset)
    if not rows:
        return []
    matrix = np.vstack([as_array(row.vector) for row in rows])
    similarities = matrix @ vector.astype(np.float32)
    order = np.argsort(-similarities)[:limit]
    return [(rows[i], float(similarities[i])) for i in order]


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
