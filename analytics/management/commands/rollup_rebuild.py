"""Recompute the rollups over a window (after a backfill, or late replayed records)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from analytics.services import rollup_rebuild


class Command(BaseCommand):
    help = "Recompute minute, hour and day rollups for the last N days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=float, default=2)

    def handle(self, *args: object, **options: object) -> None:
        until = timezone.now()
        since = until - timedelta(days=float(options["days"]))  # type: ignore[arg-type]
        self.stdout.write(str(rollup_rebuild(since=since, until=until)))
