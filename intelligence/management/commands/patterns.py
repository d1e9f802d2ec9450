"""`manage.py patterns train|classify|learn`: the stable command-line interface.

patterns train --input labelled.jsonl      lines {"text": ..., "label": ...}
patterns classify --input IN.jsonl --output OUT.jsonl
    in:  {"id": ..., "text": ...}
    out: {"id": ..., "pattern_id": ..., "template": ..., "category": ..., "confidence": ...}
patterns learn                             discovery over stored traffic, now
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from intelligence.services import categories
from intelligence.tasks import embed_prompts, learn_patterns
from proxy.models import Namespace


def read_jsonl(path: str, required: tuple[str, ...]) -> list[dict[str, Any]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc}") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise CommandError(f"{path}:{number}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or any(name not in row for name in required):
            raise CommandError(f"{path}:{number}: expected an object with {', '.join(required)}")
        rows.append(row)
    return rows


class Command(BaseCommand):
    help = "Prompt patterns: train the category classifier, classify texts, learn from traffic."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        train = sub.add_parser("train", help="Train the category classifier on labelled JSONL.")
        train.add_argument("--input", required=True)
        classify = sub.add_parser("classify", help="Pattern and category of each JSONL line.")
        classify.add_argument("--input", required=True)
        classify.add_argument("--output", required=True)
        classify.add_argument("--namespace", default="", help="Match this namespace's templates.")
        sub.add_parser(
            "learn", help="Run discovery, statistics and embeddings over stored traffic."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "do_" + options["action"])(**options)

    def do_train(self, *, input: str, **_: Any) -> None:
        rows = read_jsonl(input, ("text", "label"))
        added = categories.examples_add([(str(r["text"]), str(r["label"])) for r in rows])
        try:
            report = categories.classifier_train()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"trained on {report.examples} examples ({added} new), "
            f"{len(report.categories)} categories: {', '.join(report.categories)}"
        )

    def do_classify(self, *, input: str, output: str, namespace: str, **_: Any) -> None:
        rows = read_jsonl(input, ("id", "text"))
        namespace_id = None
        if namespace:
            found = Namespace.objects.filter(name=namespace).first()
            if found is None:
                raise CommandError(f"No namespace {namespace!r}.")
            namespace_id = found.id
        results = categories.classify_texts(
            [(r["id"], str(r["text"])) for r in rows], namespace_id=namespace_id
        )
        with open(output, "w", encoding="utf-8") as fh:
            for result in results:
                fh.write(json.dumps(result, ensure_ascii=False) + "\n")
        self.stdout.write(f"classified {len(results)} lines into {output}")

    def do_learn(self, **_: Any) -> None:
        learned = learn_patterns()
        embedded = embed_prompts()
        self.stdout.write(
            "learned from {requests} requests: {new_patterns} new patterns, "
            "{new_versions} new versions, {feedback} feedback".format(**learned)
            + "; embedded {embedded}, clustered {clustered}, "
            "{semantic_patterns} semantic patterns".format(**embedded)
        )
