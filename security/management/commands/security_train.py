"""Train the injection classifier from security/data/train.jsonl; write its weights file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from security import classifier


class Command(BaseCommand):
    help = "Train the prompt-injection classifier (logistic regression, Platt-calibrated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", default=str(classifier.MODEL_PATH.parent / "train.jsonl"))
        parser.add_argument("--output", default=str(classifier.MODEL_PATH))
        parser.add_argument("--epochs", type=int, default=12)

    def handle(self, *args: Any, **options: Any) -> None:
        with Path(options["input"]).open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        started = time.perf_counter()
        model = classifier.train(
            [(r["text"], int(r["label"])) for r in rows], epochs=options["epochs"]
        )
        model.save(Path(options["output"]))
        classifier.load.cache_clear()
        positives = sum(int(r["label"]) for r in rows)
        self.stdout.write(
            f"Trained on {len(rows)} texts ({positives} attacks) in {time.perf_counter() - started:.1f}s; "
            f"{len(model.weights)} features; Platt a={model.platt_a:.3f} b={model.platt_b:.3f}; "
            f"saved to {options['output']}"
        )
