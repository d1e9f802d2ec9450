"""`manage.py patterns train|classify|learn`, in the stable format."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from intelligence.models import Category, LabelledExample, Pattern
from intelligence.synthetic import TASK_MIX, task_examples
from tests.conftest import Gateway
from tests.intelligence.conftest import ask


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def run(*args: str) -> str:
    out = StringIO()
    call_command("patterns", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_train_then_classify_gives_categories_with_confidence(tmp_path: Path) -> None:
    examples = task_examples(20, seed=5)
    distinct = len(set(examples))  # a generator may repeat itself; a repeat is stored once
    labelled = write_jsonl(
        tmp_path / "labelled.jsonl", [{"text": t, "label": label} for t, label in examples]
    )
    assert f"{len(TASK_MIX)} categories" in run("train", "--input", labelled)
    assert Category.objects.count() == len(TASK_MIX)
    assert LabelledExample.objects.count() == distinct
    run("train", "--input", labelled)  # the same file again adds nothing
    assert LabelledExample.objects.count() == distinct

    held_out = task_examples(10, seed=6)
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"id": i, "text": t} for i, (t, _) in enumerate(held_out)]
    )
    output = tmp_path / "out.jsonl"
    assert "classified 80 lines" in run("classify", "--input", source, "--output", str(output))
    results = [json.loads(line) for line in output.read_text().splitlines()]
    assert [set(r) for r in results[:1]] == [
        {"id", "pattern_id", "template", "category", "confidence"}
    ]
    correct = sum(r["category"] == held_out[r["id"]][1] for r in results)
    assert correct / len(results) >= 0.85
    assert all(0 < r["confidence"] <= 1 for r in results)


@pytest.mark.django_db
def test_bad_input_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "a"}\nnot json\n')
    with pytest.raises(CommandError, match=r"bad\.jsonl:2"):
        run("train", "--input", str(bad))
    with pytest.raises(CommandError, match="expected an object with id, text"):
        run(
            "classify",
            "--input",
            write_jsonl(tmp_path / "x.jsonl", [{"text": "x"}]),
            "--output",
            str(tmp_path / "o"),
        )
    with pytest.raises(CommandError, match="Cannot read"):
        run("train", "--input", str(tmp_path / "missing.jsonl"))


def test_learn_discovers_templates_that_classify_then_finds(
    gateway: Gateway, tmp_path: Path
) -> None:
    for city in ("Paris", "Rome", "Oslo"):
        ask(gateway, f"Plan a weekend in {city} with a small budget")
    gateway.logs(3)
    out = run("learn")
    assert "learned from 3 requests: 1 new patterns" in out
    pattern = Pattern.objects.get()
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "a", "text": "Plan a weekend in Lima with a small budget"},
            {"id": "b", "text": "Hello"},
        ],
    )
    output = tmp_path / "out.jsonl"
    run(
        "classify",
        "--input",
        source,
        "--output",
        str(output),
        "--namespace",
        gateway.namespace.name,
    )
    first, second = [json.loads(line) for line in output.read_text().splitlines()]
    assert first["pattern_id"] == pattern.id
    assert first["template"] == "[user] Plan a weekend in <*> with a small budget"
    assert second["pattern_id"] is None and second["category"] is None


def test_learned_requests_get_a_category_from_the_classifier_or_their_pattern(
    gateway: Gateway, tmp_path: Path
) -> None:
    from intelligence.models import RequestInsight

    labelled = write_jsonl(
        tmp_path / "labelled.jsonl",
        [{"text": t, "label": label} for t, label in task_examples(20, seed=5)],
    )
    run("train", "--input", labelled)
    ask(gateway, "Translate into Spanish: the garden is beautiful in spring")
    gateway.logs(1)
    run("learn")
    insight = RequestInsight.objects.select_related("category").get()
    assert insight.category is not None and insight.category.name == "translation"
    assert insight.category_confidence is not None and insight.category_confidence > 0.5

    pattern = Pattern.objects.get()
    pattern.category = Category.objects.get(name="coding")
    pattern.save()
    ask(gateway, "Translate into Spanish: the river is cold in winter")
    gateway.logs(2)
    run("learn")
    newest = RequestInsight.objects.select_related("category").order_by("-created_at")[0]
    assert newest.category is not None and newest.category.name == "coding"
    assert newest.category_confidence == 1.0
