"""The detector: findings with evidence and severity, de-duplicated, quiet on normal traffic."""

from __future__ import annotations

from security.anomaly.baselines import SECURITY
from security.anomaly.detection import Detector
from security.anomaly.findings import Finding, describe
from tests.security.anomaly.conftest import observation, steady

DAY = 86400.0


def warmed(every: float = 60.0, days: float = 1.0) -> Detector:
    detector = Detector()
    for obs in steady(1, 0.0, days * DAY, every):
        assert detector.observe(obs) == []
    return detector


def burst(
    detector: Detector, start: float, count: int, spacing: float, **kw: object
) -> list[Finding]:
    findings = []
    for n in range(count):
        findings.extend(detector.observe(observation(at=start + n * spacing, **kw)))
    return findings


def test_it_stays_quiet_on_a_steady_key() -> None:
    detector = warmed()
    assert burst(detector, DAY, 30, 55.0) == []


def test_a_burst_is_a_request_rate_anomaly_with_evidence() -> None:
    detector = warmed()
    findings = burst(detector, DAY + 1, 200, 0.25)
    rate = [f for f in findings if f.kind == "request_rate" and f.subject == "key:1"]
    assert rate, findings
    first = rate[0]
    assert first.at - (DAY + 1) < 10  # seconds into the burst
    assert first.observed >= 20 and first.expected < 2
    text = describe(first, "key ops-bot")
    assert text.startswith("key ops-bot: ") and "× its usual request rate" in text
    assert "expected ≈" in text
    assert any(f.severity == "critical" for f in rate)


def test_it_repeats_a_finding_once_a_minute_or_when_it_gets_worse() -> None:
    detector = warmed()
    findings = [f for f in burst(detector, DAY + 1, 480, 0.25) if f.subject == "key:1"]
    by_kind = [f for f in findings if f.kind == "request_rate"]
    order = ("low", "medium", "high", "critical")
    ranks = [order.index(f.severity) for f in by_kind]
    assert ranks[: ranks.index(3) + 1] == sorted(ranks[: ranks.index(3) + 1])  # escalates
    assert len(by_kind) <= 6  # two minutes of burst: escalations plus one repeat a minute


def test_new_client_ips_are_reported_with_the_addresses() -> None:
    detector = warmed()
    findings = []
    for n, ip in enumerate(("203.0.113.5", "203.0.113.6", "203.0.113.7")):
        findings += detector.observe(observation(at=DAY + n * 20, client_ip=ip))
    clients = [f for f in findings if f.kind == "new_clients"]
    assert len(clients) == 1
    assert clients[0].details["ips"] == ["203.0.113.5", "203.0.113.6", "203.0.113.7"]
    assert "3 new client IPs" in describe(clients[0], "key k")


def test_a_cost_spike_is_seen_in_tokens_even_at_a_normal_rate() -> None:
    detector = warmed()
    findings = detector.observe(observation(at=DAY + 5, tokens=16000))
    assert [f.kind for f in findings if f.subject == "key:1"] == ["token_rate"]


def test_security_detections_accumulate_over_an_hour() -> None:
    detector = warmed()
    findings = []
    for n in range(8):
        findings += detector.observe(observation(at=DAY + n * 240, security_hits=1))
    hits = [f for f in findings if f.kind == "security_rate" and f.subject == "key:1"]
    assert hits and hits[0].window_minutes == 60


def test_security_counts_flagged_requests_as_the_refit_does_not_detections() -> None:
    quiet, noisy = warmed(), warmed()
    for n in range(8):
        quiet.observe(observation(at=DAY + n * 240, security_hits=1))
        noisy.observe(observation(at=DAY + n * 240, security_hits=5))  # five PII hits each
    for detector in (quiet, noisy):
        assert detector.profiles["key:1"].window(SECURITY, 60, 1.0) == 8


def test_use_at_an_hour_that_is_usually_idle_is_off_hours() -> None:
    detector = Detector()
    for day in range(4):
        for obs in steady(1, day * DAY + 9 * 3600, day * DAY + 17 * 3600, 30.0):
            detector.observe(obs)
    night = 4 * DAY + 2 * 3600
    findings = burst(detector, night, 40, 20.0)
    assert "off_hours" in {f.kind for f in findings}


def test_a_new_key_starts_from_its_namespace() -> None:
    detector = warmed(days=2)
    assert "key:2" not in detector.profiles
    findings = burst(detector, 2 * DAY + 10, 150, 0.3, key_id=2)
    assert any(f.subject == "key:2" and f.kind == "request_rate" for f in findings)
    assert detector.profiles["key:2"].warm


def test_new_ips_and_a_new_user_agent_together_are_new_clients() -> None:
    detector = warmed()
    findings = []
    for n, ip in enumerate(("203.0.113.5", "203.0.113.6")):
        findings += detector.observe(
            observation(at=DAY + n * 20, client_ip=ip, user_agent="curl/8")
        )
    clients = [f for f in findings if f.kind == "new_clients"]
    assert len(clients) == 1 and clients[0].observed == 3
    text = describe(clients[0], "key k")
    assert text == (
        "key k: 2 new client IPs and 1 new user agent in the last 5 minutes (usually 0.00): "
        "203.0.113.5, 203.0.113.6 (curl/8)"
    )


def test_a_new_user_agent_alone_is_not_a_new_client() -> None:
    detector = warmed()
    for n in range(5):
        assert detector.observe(observation(at=DAY + n * 20, user_agent=f"sdk/{n}")) == []


def test_profiles_idle_for_two_days_are_dropped() -> None:
    from security.anomaly import detection

    detector = warmed()
    detector._observed = detection.SWEEP_EVERY - 1
    detector.observe(observation(key_id=9, namespace_id=2, at=4 * DAY))
    assert set(detector.profiles) == {"key:9", "namespace:2"}
