"""Scan a JSONL file (or stored traffic) with a policy; write results as JSONL.

python manage.py scan --input prompts.jsonl [--policy NAME] [--output results.jsonl]
python manage.py scan --from-logs --since 7d [--policy NAME]
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from security.engine import CompiledPolicy, default_policy
from security.selectors import policy_by_name
from security.services.scan import items_from_logs, scan_items, summarise

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str) -> timedelta:
    match = DURATION.match(value.strip())
    if not match:
        raise CommandError(f"--since takes a duration like 30m, 12h or 7d, not {value!r}")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Scan texts or message lists with a security policy (default: every detector on)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", help="JSONL file; '-' reads standard input.")
        parser.add_argument(
            "--output", help="JSONL file for the results (default: standard output)."
        )
        parser.add_argument("--policy", help="Policy name (default: the built-in default policy).")
        parser.add_argument("--from-logs", action="store_true", help="Replay stored traffic.")
        parser.add_argument(
            "--since", default="7d", help="With --from-logs: how far back (e.g. 7d)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        policy = default_policy()
        if options["policy"]:
            try:
                policy = policy_by_name(options["policy"])
            except Exception as exc:
                raise CommandError(f"no policy named {options['policy']!r}") from exc
        if options["from_logs"]:
            items: Iterator[dict[str, Any]] = items_from_logs(
                timezone.now() - parse_since(options["since"])
            )
            total = None
        elif options["input"]:
            lines = self._read(options["input"])
            total = len(lines)
            items = iter(lines)
        else:
            raise CommandError("give --input FILE.jsonl or --from-logs")
        with contextlib.ExitStack() as stack:
            out: Any = (
                stack.enter_context(Path(options["output"]).open("w", encoding="utf-8"))
                if options["output"]
                else self.stdout
            )
            results = self._scan(items, policy, out, total)
        counts = summarise(results)
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        self.stderr.write(f"scanned {len(results)} with policy {policy.name!r} ({summary})")

    def _scan(
        self, items: Iterator[dict[str, Any]], policy: CompiledPolicy, out: Any, total: int | None
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        progress = sys.stderr.isatty()
        for done, result in enumerate(scan_items(items, policy), start=1):
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            results.append({k: result[k] for k in ("action", "was") if k in result})
            if progress and done % 100 == 0:
                sys.stderr.write(f"\rscanned {done}" + (f"/{total}" if total else ""))
        if progress:
            sys.stderr.write("\r")
        return results

    def _read(self, path: str) -> list[dict[str, Any]]:
        items = []
        with contextlib.ExitStack() as stack:
            handle: Any = (
                sys.stdin if path == "-" else stack.enter_context(Path(path).open(encoding="utf-8"))
            )
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError as exc:
                    raise CommandError(f"line {number} is not JSON: {exc}") from exc
                items.append(item if isinstance(item, dict) else {"id": number, "text": None})
        return items
