"""python manage.py prune_logs --older-than 30d [--namespace NAME] [--batch-size N]"""

from __future__ import annotations

import re
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from proxy.models import Namespace
from proxy.services.retention import logs_prune, logs_prune_by_retention

UNITS = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w` (a bare number is days)."""
    match = re.fullmatch(r"\s*(\d+)\s*([dhmw]?)\s*", text)
    if not match:
        raise CommandError(f"--older-than {text!r}: expected a number and d, h, m or w (e.g. 30d).")
    return timedelta(**{UNITS[match.group(2) or "d"]: int(match.group(1))})


class Command(BaseCommand):
    help = (
        "Delete request logs older than an age, in primary-key batches. Without "
        "--older-than, apply each namespace's log retention (what the scheduled job does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", help="e.g. 30d, 12h, 2w")
        parser.add_argument("--namespace", help="Only this namespace's logs.")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args: object, **options: object) -> None:
        started = time.perf_counter()
        if not options["older_than"]:
            if options["namespace"]:
                raise CommandError("--namespace needs --older-than.")
            deleted = logs_prune_by_retention()
            for name, count in deleted.items():
                self.stdout.write(f"{name or '(no namespace)'}: {count} deleted")
            return
        namespace = None
        if options["namespace"]:
            namespace = Namespace.objects.filter(name=options["namespace"]).first()
            if namespace is None:
                raise CommandError(f"No namespace {options['namespace']!r}.")
        result = logs_prune(
            older_than=parse_age(str(options["older_than"])),
            namespace=namespace,
            batch_size=options["batch_size"],  # type: ignore[arg-type]
        )
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Deleted {result.deleted} request logs in {result.batches} batches ({seconds:.1f} s)."
        )
