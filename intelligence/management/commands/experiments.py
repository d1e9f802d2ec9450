"""`manage.py experiments status [--json] [--evaluate]`: each experiment's arms and metrics.

Rates show a 95% Wilson interval, means a 95% normal interval; "vs control" is the
always-valid interval of the success-rate difference and its always-valid p-value.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from intelligence.experiment_selectors import experiment_summaries


def _pct(interval: dict[str, Any]) -> str:
    if interval["value"] is None:
        return "-"
    return f"{interval['value']:.1%} [{interval['low']:.1%}, {interval['high']:.1%}]"


def _num(interval: dict[str, Any], digits: int = 1) -> str:
    if interval["value"] is None:
        return "-"
    return f"{interval['value']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"


class Command(BaseCommand):
    help = "Experiments and their arms' metrics."
    requires_system_checks: list[str] = []  # a read-only report; runs even if admin checks fail

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status"])
        parser.add_argument("--json", action="store_true", help="One JSON document.")
        parser.add_argument(
            "--evaluate", action="store_true", help="Measure and decide running ones first."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["evaluate"]:
            from intelligence.services.experiments import evaluate_running

            evaluate_running()
        summaries = experiment_summaries()
        if options["json"]:
            self.stdout.write(json.dumps(summaries, indent=2))
            return
        if not summaries:
            self.stdout.write("No experiments.")
        for summary in summaries:
            self.stdout.write(
                f"#{summary['id']} {summary['name']} [{summary['status']}, {summary['mode']}, "
                f"holdout {summary['holdout_percent']:g}%]"
            )
            if summary["recommendation"]:
                self.stdout.write(
                    f"  decision: {summary['recommendation']} ({summary['decision_reason']})"
                )
            for arm in summary["arms"]:
                flag = " (stopped)" if arm["stopped"] else ""
                self.stdout.write(
                    f"  {arm['name']:<12} n={arm['samples']:<6} success {_pct(arm['success_rate'])}"
                    f"  errors {_pct(arm['error_rate'])}  latency ms {_num(arm['latency_ms'], 0)}"
                    f"  tokens {_num(arm['tokens'], 0)}  cost $ {_num(arm['cost_usd'], 6)}"
                    f"  feedback {_num(arm['feedback'], 2)}  judge {_num(arm['judge'], 2)}"
                    f"{flag}"
                )
                if "vs_control" in arm:
                    vs = arm["vs_control"]
                    d = vs["success_difference"]
                    diff = (
                        f"{d['value']:+.1%} [{d['low']:+.1%}, {d['high']:+.1%}]"
                        if d["value"] is not None and d["low"] is not None
                        else "-"
                    )
                    self.stdout.write(
                        f"  {'':<12} vs control: success {diff}, always-valid p {vs['always_valid_p']}"
                    )
