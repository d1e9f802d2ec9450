"""Prove the audit chain intact, or name the first broken entry (exit status 1)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from security.services.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if report.intact:
            self.stdout.write(f"Audit chain intact: {report.checked} entries verified.")
            return
        self.stderr.write(
            f"Audit chain BROKEN at entry #{report.broken_at}: {report.reason} "
            f"({report.checked} entries before it verified)."
        )
        sys.exit(1)
