"""The scheduled refit learns baselines from the request log; the snapshot carries them."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.config import load_snapshot
from security.anomaly.baselines import REQUESTS
from security.anomaly.models import Baseline
from security.anomaly.snapshot import AnomalyConfig
from security.anomaly.tasks import housekeeping, refit_baselines
from tests.conftest import make_key
from tests.security.anomaly.conftest import write_history

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_fits_each_key_its_namespace_and_the_namespace_typical_key() -> None:
    _, busy = make_key(name="busy")
    _, quiet = make_key(name="quiet")
    write_history(busy, days=3, per_minute=2.0, ips=("10.0.0.1", "10.0.0.2"))
    write_history(quiet, days=3, per_minute=0.5, seed=2)
    assert refit_baselines() == 4
    fitted = {(b.subject, b.subject_id): b.stats for b in Baseline.objects.all()}
    busy_stats = fitted[("key", busy.pk)]
    assert 1.7 < busy_stats["mean"][REQUESTS] < 2.3
    assert sorted(busy_stats["ips"]) == ["10.0.0.1", "10.0.0.2"]
    assert busy_stats["hour_days"][12] >= 2 and busy_stats["agents"] == ["OpenAI/Python"]
    whole = fitted[("namespace", busy.namespace_id)]["mean"][REQUESTS]
    typical = fitted[("namespace_key", busy.namespace_id)]["mean"][REQUESTS]
    assert whole == pytest.approx(2 * typical)
    assert 2.0 < whole < 2.9


def test_the_snapshot_carries_rules_countermeasures_and_baselines() -> None:
    from security.anomaly.models import Countermeasure, ResponseRule

    _, key = make_key(name="busy")
    write_history(key, days=1, per_minute=1.0)
    refit_baselines()
    ResponseRule.objects.create(name="r", action="alert", min_severity="low")
    Countermeasure.objects.create(action="throttle", api_key=key, requests_per_minute=7)
    Countermeasure.objects.create(action="block_ip", api_key=key, client_ip="203.0.113.1")
    config = load_snapshot().extra["anomaly"]
    assert isinstance(config, AnomalyConfig)
    assert config.throttles[key.pk] == (7, None)
    assert config.blocked_ips[key.pk] == {"203.0.113.1": None}
    assert ("key", key.pk) in config.seeds and len(config.rules) == 1
    assert config.rules_for("token_rate", "low", key.namespace_id)


def test_the_schedules_are_declared_idempotently_and_housekeeping_runs() -> None:
    from django_q.models import Schedule

    from security.anomaly.tasks import schedules_ensure

    schedules_ensure(Schedule)
    schedules_ensure(Schedule)  # as the migration does, any number of times
    ours = Schedule.objects.filter(func__startswith="security.anomaly.")
    assert sorted(ours.values_list("func", flat=True)) == [
        "security.anomaly.tasks.housekeeping",
        "security.anomaly.tasks.refit_baselines",
    ]
    assert housekeeping() == {"lifted": 0, "resolved": 0}


def test_a_refit_with_no_history_stores_nothing(settings: Any) -> None:
    assert refit_baselines() == 0
