"""A process killed while replaying a spill file leaves it claimed; the next replay takes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from proxy.models import RequestLog
from proxy.recorder import LogEntry, entry_to_row, replay_spill_files

pytestmark = pytest.mark.django_db


def a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def spill_row(request_id: str) -> dict[str, Any]:
    entry = LogEntry(
        id=request_id,
        created_at=timezone.now(),
        endpoint="chat",
        api_format="openai",
        status_code=200,
        latency_ms=1.0,
    )
    return entry_to_row(entry)


def test_a_file_claimed_by_a_killed_process_is_replayed(tmp_path: Path, settings: Any) -> None:
    settings.LOG_SPILL_DIR = tmp_path
    orphan = tmp_path / f"spill-1.replaying-{a_dead_pid()}"
    orphan.write_text(json.dumps(spill_row("a" * 32)) + "\n")
    assert replay_spill_files() == 1
    assert RequestLog.objects.filter(id="a" * 32).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_file_another_live_process_is_replaying_is_left_alone(
    tmp_path: Path, settings: Any
) -> None:
    settings.LOG_SPILL_DIR = tmp_path
    claimed = tmp_path / f"spill-1.replaying-{os.getppid()}"
    claimed.write_text(json.dumps(spill_row("b" * 32)) + "\n")
    assert replay_spill_files() == 0
    assert claimed.exists()
