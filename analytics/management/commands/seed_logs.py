"""Insert synthetic request logs and build their rollups (benchmarks, demos)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from analytics.seeding import seed_keys, seed_logs
from analytics.services import rollup_rebuild


class Command(BaseCommand):
    help = "Insert N synthetic request logs over the last D days, then build the rollups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--days", type=float, default=30)
        parser.add_argument("--namespaces", type=int, default=4)
        parser.add_argument("--keys", type=int, default=2, help="Keys per namespace.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--no-rollup", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        keys = seed_keys(int(options["namespaces"]), int(options["keys"]))  # type: ignore[call-overload]
        started = time.perf_counter()
        start, end = seed_logs(
            rows=int(options["rows"]),  # type: ignore[call-overload]
            days=float(options["days"]),  # type: ignore[arg-type]
            keys=keys,
            seed=int(options["seed"]),  # type: ignore[call-overload]
        )
        self.stdout.write(f"{options['rows']} logs in {time.perf_counter() - started:.1f} s")
        if not options["no_rollup"]:
            started = time.perf_counter()
            counts = rollup_rebuild(since=start, until=end)
            self.stdout.write(f"rollups {counts} in {time.perf_counter() - started:.1f} s")
