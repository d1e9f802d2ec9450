"""The traffic simulator: in-process evaluation faster than the clock, and its commands."""

from __future__ import annotations

import random
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from security.anomaly.simulator.evaluation import evaluate_false_alarms, evaluate_scenarios
from security.anomaly.simulator.scenarios import SCENARIOS
from security.anomaly.simulator.traffic import default_keys, organisation_traffic, rhythm_level


def test_normal_traffic_follows_each_key_s_daily_rhythm() -> None:
    keys = default_keys()
    office = next(k for k in keys if k.rhythm == "office")
    requests = list(organisation_traffic(random.Random(1), [office], 0.0, 2 * 86400.0))
    by_hour = [0] * 24
    for request in requests:
        by_hour[int(request.at % 86400 // 3600)] += 1
    assert sum(by_hour[9:18]) > 20 * sum(by_hour[0:6])
    assert [r.at for r in requests] == sorted(r.at for r in requests)
    assert rhythm_level("nightly", 2 * 3600) == 1.0


def test_every_scenario_is_detected_in_process() -> None:
    summaries = evaluate_scenarios(3, seed=3, warm_days=3)
    assert [s.scenario for s in summaries] == list(SCENARIOS)
    for summary in summaries:
        assert summary.detection_rate == 1.0, summary
        if summary.burst:
            assert summary.median_seconds is not None and summary.median_seconds <= 120


def test_normal_traffic_raises_no_alarm() -> None:
    alarms = evaluate_false_alarms(2, seed=5, warm_days=3)
    assert alarms.key_hours == 6 * 48
    assert alarms.alarms == []


def test_simulate_traffic_prints_the_findings_with_evidence() -> None:
    out = StringIO()
    call_command(
        "simulate_traffic",
        "--scenario=scraping_burst",
        "--duration=1d",
        "--seed=4",
        "--warm-days=3",
        stdout=out,
    )
    text = out.getvalue()
    assert "attack on key" in text and "× its usual request rate" in text
    assert "detected after" in text


def test_anomaly_report_writes_its_table_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "anomaly.md"
    doc.write_text("# A\n<!-- anomaly-report:start -->\nold\n<!-- anomaly-report:end -->\ntail\n")
    out = StringIO()
    call_command(
        "anomaly_report",
        "--runs=2",
        "--false-alarm-days=1",
        "--scenario=scraping_burst",
        f"--output={doc}",
        stdout=out,
        stderr=StringIO(),
    )
    text = doc.read_text()
    assert "| scraping_burst | yes | 2 | 100.0% |" in text
    assert "old" not in text and text.endswith("tail\n")
    assert "per 10,000 normal key-hours" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_prepare_keys_issues_keys_and_writes_their_history() -> None:
    from proxy.models import ApiKey, RequestLog
    from security.anomaly.simulator.http import prepare_keys

    keys, secrets = prepare_keys(default_keys()[:2], history_days=0.5)
    assert set(secrets) == {k.key_id for k in keys}
    assert ApiKey.objects.filter(namespace__name="sim-platform").count() == 2
    assert RequestLog.objects.filter(api_key_id=keys[0].key_id).count() > 100
