"""Start the ASGI server (daphne) and the django-q2 worker together.

Ctrl-C or SIGTERM stops both; each flushes its pending request records first.
Each child runs in its own process group: one that does not stop within 20 s is
killed with every process it started (the q cluster forks its workers), so no
orphan keeps running, or holding the database, after `serve` has returned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the proxy (daphne) and its background worker (django-q2) together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--no-worker", action="store_true", help="Do not start django-q2.")

    def handle(self, *args: object, **options: object) -> None:
        call_command("sync_providers")
        host, port = str(options["host"]), int(options["port"])  # type: ignore[call-overload]
        manage = [sys.executable, os.path.abspath(sys.argv[0])]
        children = {
            "daphne": subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    host,
                    "-p",
                    str(port),
                    "llmproxy.asgi:application",
                ],
                start_new_session=True,
            )
        }
        if not options["no_worker"]:
            children["qcluster"] = subprocess.Popen([*manage, "qcluster"], start_new_session=True)
        self.stdout.write(f"LLM Proxy on http://{host}:{port}/  (admin: /admin/, API: /v1/)")
        self.stdout.flush()

        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children.values()):
            time.sleep(0.2)
        if not stopping:
            died = [name for name, child in children.items() if child.poll() is not None]
            self.stderr.write(f"{', '.join(died)} stopped unexpectedly; stopping the rest.")
        # Each child flushes its pending request records before it exits (atexit).
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        failed = not stopping
        for name, child in children.items():
            try:
                code = child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop within 20 s; killing it and its processes.")
                os.killpg(child.pid, signal.SIGKILL)
                code = child.wait()
            self.stdout.write(f"{name} exited with status {code}.")
            failed = failed or code not in (0, -signal.SIGTERM)
        self.stdout.write("Stopped.")
        if failed:
            sys.exit(1)
