"""Print precision, recall and false-positive rate per detector on the held-out evaluation set."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from security.evaluation import HEADER, all_figures


class Command(BaseCommand):
    help = "Evaluate the security detectors on security/data/*_eval.jsonl and benign_1000.jsonl."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(HEADER)
        for figures in all_figures():
            self.stdout.write(figures.row())
