"""GET /metrics: Prometheus text, behind a bearer token, counting real proxy traffic."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(url: str, token: str = "s3cret-metrics") -> httpx.Response:
    return httpx.get(url + "/metrics", headers={"authorization": f"Bearer {token}"})


def value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_it_counts_requests_tokens_and_latency(gateway: Any, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics"
    ns = gateway.namespace.id
    requests_series = (
        f'llmproxy_requests_total{{namespace_id="{ns}",model="fake-model",status="200"}}'
    )
    before = scrape(gateway.url).text
    answer = gateway.openai().chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "count me please"}]
    )
    after = scrape(gateway.url)
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = after.text
    assert value(text, requests_series) == value(before, requests_series) + 1
    prompt = 'llmproxy_tokens_total{model="fake-model",kind="prompt"}'
    assert value(text, prompt) - value(before, prompt) == answer.usage.prompt_tokens
    count = 'llmproxy_request_duration_seconds_count{provider="fake"}'
    assert value(text, count) == value(before, count) + 1
    assert 'llmproxy_request_duration_seconds_bucket{provider="fake",le="+Inf"}' in text
    assert "# TYPE llmproxy_log_queue_pending gauge" in text
    assert "llmproxy_task_queue_depth" in text


def test_it_counts_upstream_errors_by_provider(gateway: Any, settings: Any) -> None:
    import openai

    settings.METRICS_TOKEN = "s3cret-metrics"
    series = 'llmproxy_upstream_errors_total{provider="fake",status="503"}'
    before = value(scrape(gateway.url).text, series)
    gateway.fake.then(status=503)
    with pytest.raises(openai.APIStatusError):
        gateway.openai().chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "fail"}]
        )
    assert value(scrape(gateway.url).text, series) == before + 1


def test_it_wants_the_token(gateway: Any, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics"
    assert scrape(gateway.url, token="wrong").status_code == 401
    assert httpx.get(gateway.url + "/metrics").status_code == 401


def test_it_is_off_without_a_token(gateway: Any, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert scrape(gateway.url).status_code == 404


def test_histograms_are_cumulative() -> None:
    from analytics.metrics import Metrics

    metrics = Metrics()
    for seconds in (0.004, 0.03, 0.03, 100.0):
        metrics.observe(
            "llmproxy_request_duration_seconds", seconds, (0.005, 0.05), (("provider", "p"),)
        )
    text = metrics.render()
    assert 'llmproxy_request_duration_seconds_bucket{provider="p",le="0.005"} 1' in text
    assert 'llmproxy_request_duration_seconds_bucket{provider="p",le="0.05"} 3' in text
    assert 'llmproxy_request_duration_seconds_bucket{provider="p",le="+Inf"} 4' in text
    assert 'llmproxy_request_duration_seconds_count{provider="p"} 4' in text
