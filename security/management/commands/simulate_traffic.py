"""Simulated traffic: normal keys with daily rhythms plus an attack scenario.

manage.py simulate_traffic --scenario scraping_burst --duration 2h
    in-process: feeds the detector directly, faster than the clock, and
    prints the findings with their evidence (no database needed).
manage.py simulate_traffic --scenario leaked_key --http http://127.0.0.1:8000 --duration 10m
    through a running proxy with the openai SDK, in real time (`--speed` compresses
    it): issues keys, writes `--history-days` of normal history and refits the
    baselines first. The proxy must trust X-Forwarded-For from 127.0.0.1
    (TRUSTED_PROXIES=127.0.0.1) for the simulated client IPs.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from security.anomaly.findings import describe
from security.anomaly.simulator.evaluation import DAY, feed, warmed_detector
from security.anomaly.simulator.scenarios import SCENARIOS
from security.anomaly.simulator.traffic import default_keys, merged, organisation_traffic


def parse_duration(text: str) -> float:
    """ "90s", "15m", "2h", "3d" or plain seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise CommandError(f"not a duration: {text!r} (try 90s, 15m, 2h, 3d)")
    value, unit = float(match[1]), match[2] or "s"
    return value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


class Command(BaseCommand):
    help = "Drive the anomaly detector with simulated normal traffic and an attack scenario."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenario", default="normal", choices=["normal", *SCENARIOS])
        parser.add_argument("--duration", default="1h", help="Simulated time (90s, 15m, 2h, 3d).")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--warm-days", type=int, default=7)
        parser.add_argument("--http", metavar="URL", help="Drive a running proxy at this URL.")
        parser.add_argument("--speed", type=float, default=1.0, help="HTTP: time compression.")
        parser.add_argument("--history-days", type=float, default=3.0)

    def handle(self, *args: Any, **options: Any) -> None:
        seed = options["seed"] if options["seed"] is not None else random.randrange(1 << 30)
        duration = parse_duration(options["duration"])
        rng = random.Random(seed)
        self.stdout.write(f"seed {seed}, scenario {options['scenario']}")
        if options["http"]:
            self.over_http(options, rng, duration)
        else:
            self.in_process(options, rng, duration, seed)

    def in_process(
        self, options: dict[str, Any], rng: random.Random, duration: float, seed: int
    ) -> None:
        keys = default_keys()
        detector = warmed_detector(seed, keys, options["warm_days"])
        origin = options["warm_days"] * DAY
        streams = [organisation_traffic(rng, keys, origin, origin + duration)]
        attack = None
        if options["scenario"] != "normal":
            attack = SCENARIOS[options["scenario"]](rng, keys, origin)
            streams.append(attack.requests())
            self.stdout.write(
                f"attack on key {attack.target.name} at +{(attack.start - origin) / 3600:.2f} h"
            )
        labels = {f"key:{k.key_id}": k.label for k in keys}
        labels.update({f"namespace:{k.namespace_id}": f"namespace {k.namespace}" for k in keys})
        findings = feed(detector, (r for r in merged(*streams) if r.at < origin + duration))
        for finding in findings:
            clock = (finding.at - origin) / 3600
            self.stdout.write(
                f"+{clock:7.3f} h  {finding.severity:8} {finding.kind:14} "
                + describe(finding, labels.get(finding.subject, finding.subject))
            )
        if attack is not None:
            hits = [
                f
                for f in findings
                if f.subject == f"key:{attack.target.key_id}" and f.at >= attack.start
            ]
            if hits:
                self.stdout.write(f"detected after {hits[0].at - attack.start:.0f} s (simulated)")
            else:
                self.stdout.write("not detected")
        self.stdout.write(f"{len(findings)} findings")

    def over_http(self, options: dict[str, Any], rng: random.Random, duration: float) -> None:
        from security.anomaly.fitting import baselines_refit
        from security.anomaly.simulator.http import play, prepare_keys

        keys, secrets = prepare_keys(default_keys(), history_days=options["history_days"])
        baselines_refit()
        base = float(int(rng.uniform(0, 1e9) // DAY) * DAY)
        if options["scenario"] == "normal":
            requests = list(organisation_traffic(rng, keys, base, base + duration))
        else:
            attack = SCENARIOS[options["scenario"]](rng, keys, base)
            end = min(attack.end, attack.start + duration)
            attack_requests = [r for r in attack.requests() if r.at < end]
            normal = organisation_traffic(rng, keys, attack.start, end)
            requests = list(merged(iter(attack_requests), normal))
            self.stdout.write(
                f"attack on key {attack.target.name}, {len(attack_requests)} requests"
            )
        results = play(
            requests,
            base_url=options["http"].rstrip("/") + "/v1",
            secrets=secrets,
            speed=options["speed"],
        )
        outcome = Counter((r.request.key.name, r.status, r.code) for r in results)
        for (name, status, code), count in sorted(outcome.items()):
            self.stdout.write(f"{name:12} {status} {code or '':20} {count}")
