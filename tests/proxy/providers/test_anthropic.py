"""The native Anthropic adapter: URL, headers, usage normalisation."""

from __future__ import annotations

import pytest

from proxy.providers import anthropic as adapter
from proxy.providers import get_adapter


@pytest.mark.parametrize(
    "base_url",
    ["https://api.anthropic.com", "https://api.anthropic.com/", "https://api.anthropic.com/v1"],
)
def test_it_appends_v1_messages_to_the_host_root_once(base_url: str) -> None:
    request = adapter.build_request(
        "messages",
        {"model": "alias", "max_tokens": 5, "messages": []},
        model="claude-sonnet-4-5",
        api_key="sk-ant-secret",
        base_url=base_url,
        extra_headers={},
        want_usage=True,
    )
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.body["model"] == "claude-sonnet-4-5"
    assert request.headers["x-api-key"] == "sk-ant-secret"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers


def test_extra_headers_win_over_the_defaults() -> None:
    request = adapter.build_request(
        "count_tokens",
        {"model": "a", "messages": []},
        model="a",
        api_key="",
        base_url="http://h",
        extra_headers={"anthropic-version": "2099-01-01"},
        want_usage=False,
    )
    assert request.url == "http://h/v1/messages/count_tokens"
    assert request.headers["anthropic-version"] == "2099-01-01"
    assert "x-api-key" not in request.headers


def test_usage_counts_cache_reads_and_writes_in_the_prompt() -> None:
    summary = adapter.summarize_response(
        {
            "stop_reason": "max_tokens",
            "usage": {
                "input_tokens": 3,
                "output_tokens": 8,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
            },
        }
    )
    assert summary.finish_reason == "max_tokens"
    usage = summary.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (123, 8)
    assert (usage.cached_tokens, usage.cache_write_tokens) == (100, 20)


def test_it_is_registered_for_the_anthropic_kind() -> None:
    assert get_adapter("anthropic") is adapter
    assert adapter.API_FORMAT == "anthropic"
