"""python manage.py seed_logs --rows 10000000 [--days 30] [--namespaces 20] [--keys 5]

Insert synthetic request logs (see `analytics.seeding`), then rebuild the rollups
over their window. The one way to seed the log, for benchmarks, demos and tests.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics.seeding import seed_keys, seed_logs
from analytics.services import rollup_rebuild


class Command(BaseCommand):
    help = "Insert N synthetic request logs over the last D days, then build the rollups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--days", type=float, default=30, help="Spread over the last D days.")
        parser.add_argument("--namespaces", type=int, default=20)
        parser.add_argument("--keys", type=int, default=5, help="Keys per namespace.")
        parser.add_argument(
            "--bodies", type=float, default=0.05, help="Share of rows with a body (0 to 1)."
        )
        parser.add_argument("--chunk", type=int, default=200_000, help="Rows per transaction.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--no-rollup", action="store_true")

    def handle(self, *args: object, **options: Any) -> None:
        keys = seed_keys(options["namespaces"], options["keys"])
        started = time.perf_counter()

        def progress(done: int) -> None:
            rate = done / (time.perf_counter() - started)
            self.stdout.write(f"{done} rows ({rate:,.0f} rows/s)")

        start, end = seed_logs(
            rows=options["rows"],
            days=options["days"],
            keys=keys,
            seed=options["seed"],
            bodies=options["bodies"],
            chunk=options["chunk"],
            progress=progress if options["rows"] > options["chunk"] else None,
        )
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Seeded {options['rows']} request logs in {seconds:.1f} s "
            f"({options['rows'] / max(seconds, 1e-9):,.0f} rows/s) across "
            f"{options['namespaces']} namespaces, {len(keys)} keys."
        )
        if not options["no_rollup"]:
            started = time.perf_counter()
            counts = rollup_rebuild(since=start, until=end)
            self.stdout.write(f"Rollups {counts} in {time.perf_counter() - started:.1f} s.")
