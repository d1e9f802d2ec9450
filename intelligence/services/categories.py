"""Categories: labelled examples in, a trained classifier out, categories on requests."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from intelligence.models import Category, ClassifierState, LabelledExample, Pattern, Template
from intelligence.services.classifier import FEATURES, NaiveBayes, count_examples
from intelligence.services.templates import TemplateIndex, tokenize_text


@dataclass
class TrainReport:
    examples: int
    categories: list[str]


def examples_add(pairs: list[tuple[str, str]]) -> int:
    """Store labelled (text, label) pairs, creating categories as needed. Returns new rows."""
    added = 0
    categories: dict[str, Category] = {}
    for text, label in pairs:
        category = categories.get(label)
        if category is None:
            category, _ = Category.objects.get_or_create(name=label[:64])
            categories[label] = category
        _, created = LabelledExample.objects.get_or_create(text=text, category=category)
        added += int(created)
    return added


def training_pairs() -> list[tuple[str, str]]:
    """Every labelled example, and the current template of every labelled pattern."""
    pairs = [(e.text, e.category.name) for e in LabelledExample.objects.select_related("category")]
    for pattern in Pattern.objects.filter(category__isnull=False).select_related("category"):
        template = pattern.current_template
        if template is not None and pattern.category is not None:
            pairs.append((template.text.replace("<*>", " "), pattern.category.name))
    return pairs


def _pack(counts: dict[int, float]) -> dict[str, str]:
    indexes = np.fromiter(counts.keys(), dtype=np.int32)
    values = np.fromiter(counts.values(), dtype=np.float32)
    return {
        "indexes": base64.b64encode(indexes.tobytes()).decode(),
        "values": base64.b64encode(values.tobytes()).decode(),
    }


def _unpack(packed: dict[str, str]) -> dict[int, float]:
    indexes = np.frombuffer(base64.b64decode(packed["indexes"]), dtype=np.int32)
    values = np.frombuffer(base64.b64decode(packed["values"]), dtype=np.float32)
    return dict(zip(indexes.tolist(), values.tolist(), strict=True))


def classifier_train(name: str = "default") -> TrainReport:
    pairs = training_pairs()
    if not pairs:
        raise ValueError("There are no labelled examples to train on.")
    labels, counts, docs = count_examples(pairs)
    with transaction.atomic():
        ClassifierState.objects.update_or_create(
            name=name,
            defaults={
                "labels": labels,
                "parameters": {
                    "features": FEATURES,
                    "docs": docs,
                    "counts": [_pack(c) for c in counts],
                },
                "examples": len(pairs),
                "trained_at": timezone.now(),
            },
        )
    return TrainReport(examples=len(pairs), categories=labels)


def classifier_load(name: str = "default") -> NaiveBayes | None:
    state = ClassifierState.objects.filter(name=name).first()
    if state is None or state.parameters.get("features") != FEATURES:
        return None
    counts = [_unpack(p) for p in state.parameters["counts"]]
    return NaiveBayes.from_counts(list(state.labels), counts, list(state.parameters["docs"]))


def template_index_for(namespace_id: int | None) -> tuple[TemplateIndex, dict[int, str]]:
    """An index of the stored templates (all namespaces' when None), and their texts."""
    rows = Template.objects.select_related("pattern")
    if namespace_id is not None:
        rows = rows.filter(pattern__namespace_id=namespace_id)
    texts = {}
    compiled = []
    for row in rows:
        texts[row.id] = row.text
        compiled.append(
            TemplateIndex.compile(
                template_id=row.id,
                pattern_id=row.pattern_id,
                version=row.version,
                namespace_id=None,
                tokens=row.tokens,
                support=row.examples,
            )
        )
    return TemplateIndex(compiled), texts


def classify_texts(
    items: list[tuple[Any, str]], *, namespace_id: int | None = None
) -> list[dict[str, Any]]:
    """The stable `classify` output: id, pattern_id, template, category, confidence."""
    index, texts = template_index_for(namespace_id)
    model = classifier_load()
    out = []
    for item_id, text in items:
        found = index.match(None, tokenize_text(text))
        category, confidence = model.predict(text) if model is not None else (None, None)
        out.append(
            {
                "id": item_id,
                "pattern_id": found.pattern_id if found else None,
                "template": texts.get(found.template_id) if found else None,
                "category": category,
                "confidence": round(confidence, 4) if confidence is not None else None,
            }
        )
    return out


def categorize_insights(log_ids: list[str]) -> int:
    """Give requests a category: their pattern's label, else the classifier's guess."""
    from intelligence.models import RequestInsight
    from intelligence.services.embeddings import prompt_for_embedding

    model = classifier_load()
    names = dict(Category.objects.values_list("name", "id"))
    updated = 0
    insights = RequestInsight.objects.filter(log_id__in=log_ids, category__isnull=True)
    for insight in insights.select_related("pattern", "log__body"):
        category_id, confidence = None, None
        if insight.pattern is not None and insight.pattern.category_id is not None:
            category_id, confidence = insight.pattern.category_id, 1.0
        elif model is not None:
            body = getattr(insight.log, "body", None)
            if body is not None and isinstance(body.request, dict):
                text = prompt_for_embedding(body.request)
                if text.strip():
                    label, confidence = model.predict(text)
                    category_id = names.get(label)
        if category_id is not None:
            RequestInsight.objects.filter(pk=insight.pk).update(
                category_id=category_id, category_confidence=confidence
            )
            updated += 1
    return updated
