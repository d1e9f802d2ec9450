"""Offline embeddings, nearest neighbours (pgvector or numpy), semantic patterns."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from intelligence.evaluation import paraphrase_recall
from intelligence.models import Pattern, PromptEmbedding, RequestInsight
from intelligence.selectors import similar_prompts
from intelligence.services.embeddings import DIMENSIONS, embed
from intelligence.services.semantic import embed_and_cluster
from tests.conftest import Gateway
from tests.intelligence.conftest import ask, learn_now


def test_embeddings_are_deterministic_unit_vectors() -> None:
    vector = embed("Summarise the quarterly report")
    assert vector.shape == (DIMENSIONS,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(vector, embed("Summarise the quarterly report"))
    assert not embed("").any()


def test_paraphrases_are_found_among_unrelated_prompts() -> None:
    measured = paraphrase_recall()
    assert measured["recall_at_1"] >= 0.9
    assert measured["min_paraphrase_similarity"] > measured["max_unrelated_similarity"]


def test_free_form_prompts_are_clustered_by_meaning_and_near_duplicates_noted(
    gateway: Gateway,
) -> None:
    prompts = [
        "How do I bake sourdough bread at home?",
        "What are the steps for baking a sourdough bread loaf?",
        "Who won the chess world championship in 1972?",
    ]
    for text in prompts:
        ask(gateway, text)
    learn_now(gateway, 3)
    report = embed_and_cluster()
    assert report["embedded"] == 3 and embed_and_cluster()["embedded"] == 0
    insights = {
        i.log.body.request["messages"][0]["content"]: i
        for i in RequestInsight.objects.select_related("log__body", "pattern")
    }
    bread = {insights[p].pattern_id for p in prompts[:2]}
    assert len(bread) == 1
    pattern = Pattern.objects.get(pk=bread.pop())
    assert pattern.kind == Pattern.Kind.SEMANTIC and "sourdough" in pattern.name
    assert insights[prompts[2]].pattern_id != pattern.id
    assert report["semantic_patterns"] == 1 and report["clustered"] == 1


def test_near_duplicates_are_noted(gateway: Gateway) -> None:
    first = ask(gateway, "How do I bake sourdough bread at home?")
    ask(gateway, "how do i bake sourdough bread at home")
    learn_now(gateway, 2)
    assert embed_and_cluster()["near_duplicates"] == 1
    later = RequestInsight.objects.order_by("-created_at").first()
    assert later is not None
    assert later.near_duplicate_of == first.headers["x-llmproxy-request-id"]


def test_similar_prompts_are_ranked_by_cosine_similarity(gateway: Gateway) -> None:
    for text in ("Translate good morning into Spanish", "Plan a week in Japan", "Fix my SQL query"):
        ask(gateway, text)
    learn_now(gateway, 3)
    embed_and_cluster()
    found = similar_prompts(
        namespace_id=gateway.namespace.id,
        vector=embed("How do you say good morning in Spanish?"),
        limit=3,
    )
    assert len(found) == 3
    assert (
        found[0][0].log.body.request["messages"][0]["content"]
        == "Translate good morning into Spanish"
    )
    assert found[0][1] > found[1][1] >= found[2][1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pgvector runs on PostgreSQL")
def test_the_similarity_query_uses_the_hnsw_index(gateway: Gateway) -> None:
    from pgvector.django import CosineDistance

    ask(gateway, "Plan a week in Japan")
    learn_now(gateway, 1)
    embed_and_cluster()
    query = (
        PromptEmbedding.objects.filter(namespace_id=gateway.namespace.id)
        .annotate(distance=CosineDistance("vector", embed("a week in Japan").tolist()))
        .order_by("distance")[:5]
    )
    # On a tiny table a sequential scan and a sort are cheapest: forbid them, as
    # the planner would on a table of realistic size.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            plan = query.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")
    assert "Index Scan using prompt_embedding_hnsw" in plan, plan


@pytest.mark.django_db
def test_nearest_neighbours_are_the_same_when_rows_are_compared_a_chunk_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from intelligence import selectors
    from proxy.models import Namespace
    from tests.intelligence.test_discovery import logged

    namespace = Namespace.objects.create(name="chunks")
    texts = [
        "Translate good morning into Spanish",
        "Plan a week in Japan",
        "Fix my SQL query",
        "How do you say good night in Spanish?",
        "Write a haiku about the sea",
        "Say good morning in Spanish, please",
        "Book a table for two",
    ]
    for text in texts:
        log = logged(namespace, text)
        PromptEmbedding.objects.create(log=log, namespace=namespace, vector=embed(text).tolist())
    query = embed("How do you say good morning in Spanish?")
    expected = sorted((float(embed(t) @ query), t) for t in texts)[::-1][:3]

    monkeypatch.setattr(selectors, "CHUNK_ROWS", 2)  # 7 rows: four chunks, the last one short
    found = similar_prompts(namespace_id=namespace.id, vector=query, limit=3)

    assert [row.log.body.request["messages"][0]["content"] for row, _ in found] == [
        text for _, text in expected
    ]
    assert [similarity for _, similarity in found] == pytest.approx([s for s, _ in expected])


def test_a_run_stops_when_its_time_is_up_and_the_next_goes_on(gateway: Gateway) -> None:
    for text in ("How do I bake sourdough bread?", "Who won the 1972 chess championship?"):
        ask(gateway, text)
    learn_now(gateway, 2)
    assert embed_and_cluster(seconds=0) == {
        "embedded": 0,
        "clustered": 0,
        "near_duplicates": 0,
        "semantic_patterns": 0,
        "stopped_early": 1,
    }
    assert embed_and_cluster()["embedded"] == 2
