"""`manage.py demo`: a fake provider and mixed traffic through the running proxy."""

from __future__ import annotations

import logging
import threading
import time

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services import rollup_recent
from dashboard.demo import (
    demo_learning,
    demo_setup,
    run_traffic,
    start_fake_claude,
    start_fake_upstream,
)


class Command(BaseCommand):
    help = (
        "Start a local fake provider, create demo namespaces, keys and routes, and send "
        "realistic mixed traffic through the running proxy (start it with `make run`)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default=f"http://{settings.HOST}:{settings.PORT}")
        parser.add_argument("--rate", type=float, default=3.0, help="Requests per second.")
        parser.add_argument("--duration", type=float, default=0, help="Seconds; 0: until Ctrl-C.")
        parser.add_argument("--workers", type=int, default=8)

    def handle(self, *args: object, **options: object) -> None:
        url = str(options["url"]).rstrip("/")
        for noisy in ("httpx", "httpx2", "openai"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._wait_for_proxy(url)
        fake = start_fake_upstream()
        claude = start_fake_claude()
        setup = demo_setup(proxy_url=url, fake=fake)
        self.stdout.write(f"Fake provider on {fake.base_url}; apps: {', '.join(setup.keys)}")
        self.stdout.write(
            f"Sending traffic to {setup.base_url}. Watch it on {url}/dashboard/ (Ctrl-C stops)."
        )
        stop = threading.Event()
        try:
            traffic = run_traffic(
                setup,
                rate=float(options["rate"]),  # type: ignore[arg-type]
                duration=float(options["duration"]),  # type: ignore[arg-type]
                workers=int(options["workers"]),  # type: ignore[call-overload]
                every=lambda: (rollup_recent(), demo_learning(claude)),  # pages fill at once
                stop=stop,
            )
        except KeyboardInterrupt:
            stop.set()
            self.stdout.write("Stopped.")
            return
        self.stdout.write(
            f"Sent {traffic.sent} requests ({traffic.failed} answered with an error, "
            f"{traffic.attacks} attacks); {traffic.feedback} answers rated."
        )

    def _wait_for_proxy(self, url: str, seconds: float = 20.0) -> None:
        """The proxy may still be starting (`make run` in another terminal)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                httpx.get(url + "/healthz", timeout=3).raise_for_status()
                return
            except httpx.HTTPError as exc:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"No proxy answers at {url} ({exc}): start it with `make run`."
                    ) from exc
                time.sleep(0.5)
