"""The translated path: an OpenAI client on a Claude route, streaming (issue 3's bar).

`bench/run.py` (unless `--no-translated`) adds an Anthropic provider whose base URL is
the fake upstream's Anthropic root and a global route `claude-route` targeting it
(`manage.py apply_config`, the same file an operator would write). Then, per
concurrency and server, wrk POSTs the same OpenAI-format streaming chat body to the
proxy's `/v1/chat/completions` twice, back to back: once with the same-format model
(`gpt-4o-mini`, served by the OpenAI-compatible default provider, bytes passed
through) and once with `model: claude-route` (request translated to Anthropic's
messages API, Anthropic's SSE translated back to OpenAI chunks). The difference of the
two is the cost of translation. wrk also runs directly against both of the fake
upstream's endpoints, so that a difference between the fake's two streams is visible
rather than counted as the proxy's.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run import Cell, chat_body, lua_post, run_wrk

CLAUDE_ROUTE = "claude-route"
CLAUDE_MODEL = "claude-3-5-haiku-latest"
CONCURRENCY = (1, 16)


@dataclass
class TranslationRow:
    server: str
    concurrency: int
    direct_openai: Cell
    direct_anthropic: Cell
    same_format: Cell
    translated: Cell

    @property
    def added_p50_ms(self) -> float:
        return self.translated.p50_ms - self.same_format.p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.translated.p99_ms - self.same_format.p99_ms

    @property
    def net_added_p50_ms(self) -> float:
        """Added p50 minus how much slower the fake's Anthropic stream is than its OpenAI one."""
        upstream_difference = self.direct_anthropic.p50_ms - self.direct_openai.p50_ms
        return self.added_p50_ms - upstream_difference


def config_file(directory: Path, upstream_port: int) -> Path:
    """The providers and route `apply_config` creates (YAML is a superset of JSON)."""
    config = {
        "providers": [
            {
                "name": "claude",
                "kind": "anthropic",
                "base_url": f"http://127.0.0.1:{upstream_port}",
                "api_key": "env:OPENAI_API_KEY",  # the fake upstream checks no key
                "allow_private_network": True,  # it listens on loopback (SSRF guard)
            }
        ],
        "routes": [
            {
                "alias": CLAUDE_ROUTE,
                "strategy": "single",
                "targets": [{"provider": "claude", "model": CLAUDE_MODEL}],
            }
        ],
    }
    path = directory / "translated-route.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def anthropic_body(openai_body: dict[str, Any]) -> dict[str, Any]:
    """The same conversation as Anthropic's messages API takes it, for the direct runs."""
    system = [m["content"] for m in openai_body["messages"] if m["role"] == "system"]
    return {
        "model": CLAUDE_MODEL,
        "max_tokens": 1024,
        "system": "\n".join(system),
        "messages": [m for m in openai_body["messages"] if m["role"] != "system"],
        "temperature": openai_body["temperature"],
        "stream": openai_body["stream"],
    }


def measure(
    *,
    directory: Path,
    key: str,
    upstream_port: int,
    ports: dict[str, int],
    duration: float,
    commands: dict[str, str],
) -> list[TranslationRow]:
    """wrk, streaming, per concurrency: both upstream endpoints, then per server the
    same-format model and the Claude route back to back."""
    bearer = {"Authorization": f"Bearer {key}"}
    same = lua_post(directory, "stream-same-format", chat_body("gpt-4o-mini", True), bearer)
    claude = lua_post(directory, "stream-claude-route", chat_body(CLAUDE_ROUTE, True), bearer)
    direct_claude = lua_post(
        directory,
        "stream-anthropic-direct",
        anthropic_body(chat_body(CLAUDE_MODEL, True)),
        {"x-api-key": "sk-bench-upstream", "anthropic-version": "2023-06-01"},
    )
    upstream = f"http://127.0.0.1:{upstream_port}"
    rows = []
    for concurrency in CONCURRENCY:
        direct_openai, _ = run_wrk(f"{upstream}/v1/chat/completions", same, concurrency, duration)
        direct_anthropic, commands["direct (Anthropic)"] = run_wrk(
            f"{upstream}/v1/messages", direct_claude, concurrency, duration
        )
        for name, port in ports.items():
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            same_format, _ = run_wrk(url, same, concurrency, duration)
            translated, commands[f"{name} (Claude route)"] = run_wrk(
                url, claude, concurrency, duration
            )
            row = TranslationRow(
                name, concurrency, direct_openai, direct_anthropic, same_format, translated
            )
            rows.append(row)
            print(
                f"{name:8} translated c={concurrency:<3} same-format p50 {same_format.p50_ms:6.2f} "
                f"p99 {same_format.p99_ms:6.2f} ms | Claude route p50 {translated.p50_ms:6.2f} "
                f"p99 {translated.p99_ms:6.2f} ms | added p50 {row.added_p50_ms:+.2f} ms  "
                f"errors {same_format.errors + translated.errors}",
                flush=True,
            )
    return rows


def claude_route_records(database: Path) -> dict[str, int]:
    """What the request log holds for the Claude route: evidence that the translated
    streams went to the Anthropic provider and completed. A stream that wrk cuts off at
    the end of a run is logged as 499 (client disconnected), not as an error."""
    with sqlite3.connect(database) as db:
        total, finished, cut_off = db.execute(
            "select count(*), "
            "count(*) filter (where status_code = 200 and finish_reason = 'stop' "
            "and completion_tokens > 0), "
            "count(*) filter (where status_code = 499 and client_disconnected) "
            "from proxy_requestlog where route = ? and provider = 'claude' and stream",
            (CLAUDE_ROUTE,),
        ).fetchone()
    return {
        "records": total,
        "finished (status 200, tokens counted)": finished,
        "cut off by wrk at the end of a run (499, client disconnected)": cut_off,
        "other": total - finished - cut_off,
    }
