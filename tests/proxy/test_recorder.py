"""The request-log writer: nothing lost when the database fails, bodies as LOG_BODIES says."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError

from proxy import recorder as recorder_module
from proxy.models import Namespace, RequestBody, RequestLog
from proxy.recorder import LogEntry, Recorder, entry_to_row
from proxy.runtime import get_runtime
from tests.conftest import Gateway


@pytest.fixture
def spill_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LOG_SPILL_DIR = tmp_path / "spill"
    return settings.LOG_SPILL_DIR


def spilled_ids(directory: Path) -> list[str]:
    return [
        json.loads(line)["id"]
        for path in sorted(directory.glob("spill-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def ask(gateway: Gateway, text: str = "hello", **kwargs: Any) -> str:
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kwargs
    )
    if kwargs.get("stream"):
        for _ in raw.parse():
            pass
    else:
        raw.parse()
    return str(raw.headers["x-llmproxy-request-id"])


def test_a_database_error_neither_fails_the_request_nor_drops_the_record(
    gateway: Gateway, spill_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_rows = recorder_module.write_rows

    def database_down(rows: list[dict[str, Any]]) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(recorder_module, "write_rows", database_down)
    first = ask(gateway, "while the database is down")  # answered although it cannot be stored
    get_runtime().recorder.flush()
    assert spilled_ids(spill_dir) == [first]
    assert not RequestLog.objects.filter(pk=first).exists()

    monkeypatch.setattr(recorder_module, "write_rows", real_write_rows)
    time.sleep(2.1)  # the writer probes the database again after 2 s
    second = ask(gateway, "once the database is back")
    wait_until(lambda: RequestLog.objects.filter(pk__in=[first, second]).count() == 2)
    wait_until(lambda: not list(spill_dir.glob("*")))
    stored = RequestLog.objects.get(pk=first)
    assert stored.status_code == 200
    assert stored.namespace_id == gateway.namespace.id
    assert RequestBody.objects.get(pk=first).response["choices"][0]["message"]["content"] == (
        "echo: while the database is down"
    )


def entry(namespace_id: int | None = None, **kwargs: Any) -> LogEntry:
    values: dict[str, Any] = {
        "id": f"{time.time_ns():032x}"[-32:],
        "created_at": datetime.now(UTC),
        "endpoint": "chat",
        "api_format": "openai",
        "status_code": 200,
        "latency_ms": 3.0,
        "namespace_id": namespace_id,
        "requested_model": "gpt-4o-mini",
        "request_body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
    }
    values.update(kwargs)
    return LogEntry(**values)


def test_spilled_records_are_replayed_when_a_writer_starts(
    transactional_db: Any, spill_dir: Path
) -> None:
    spill_dir.mkdir(parents=True)
    old = entry(id="a" * 32)
    (spill_dir / "spill-12345.jsonl").write_text(json.dumps(entry_to_row(old)) + "\n")

    writer = Recorder()
    writer.record(entry(id="b" * 32))
    assert writer.flush()
    writer.stop()

    assert set(RequestLog.objects.values_list("id", flat=True)) == {"a" * 32, "b" * 32}
    assert list(spill_dir.glob("*")) == []
    assert RequestBody.objects.get(pk="a" * 32).request["messages"][0]["content"] == "x"


def test_a_record_whose_namespace_was_deleted_in_flight_is_kept_without_it(
    gateway: Gateway,
) -> None:
    gateway.fake.then(delay=1.0)
    namespace_id, key_id = gateway.namespace.id, gateway.api_key.id
    ids: list[str] = []
    request = threading.Thread(target=lambda: ids.append(ask(gateway, "slow")))
    request.start()
    wait_until(lambda: len(gateway.fake.requests) == 1)  # the request is at the upstream
    Namespace.objects.filter(pk=namespace_id).delete()  # its keys go with it
    request.join(10)

    (log,) = gateway.logs(1)
    assert log.id == ids[0]
    assert log.status_code == 200
    assert log.namespace_id is None and log.api_key_id is None
    assert log.annotations["orphaned"] == {"namespace_id": namespace_id, "api_key_id": key_id}


def test_full_bodies_keep_the_text_of_request_and_response(gateway: Gateway, settings: Any) -> None:
    settings.LOG_BODIES = "full"
    request_id = ask(gateway, "remember this sentence")
    gateway.logs(1)
    body = RequestBody.objects.get(pk=request_id)
    assert body.request["messages"] == [{"role": "user", "content": "remember this sentence"}]
    assert body.response["choices"][0]["message"]["content"] == "echo: remember this sentence"
    assert body.truncated is False


def test_full_bodies_of_a_stream_keep_the_assembled_text(gateway: Gateway, settings: Any) -> None:
    settings.LOG_BODIES = "full"
    request_id = ask(gateway, "stream me", stream=True)
    gateway.logs(1)
    assert RequestBody.objects.get(pk=request_id).response_text == "echo: stream me"


def test_metadata_bodies_keep_the_shape_without_the_text(gateway: Gateway, settings: Any) -> None:
    settings.LOG_BODIES = "metadata"
    request_id = ask(gateway, "a secret sentence", temperature=0.5)
    gateway.logs(1)
    body = RequestBody.objects.get(pk=request_id)
    stored = json.dumps([body.request, body.response, body.response_text])
    assert "secret" not in stored
    assert body.request["model"] == "gpt-4o-mini"
    assert body.request["temperature"] == 0.5
    message_size = len(json.dumps({"role": "user", "content": "a secret sentence"}))
    assert body.request["messages"] == [{"role": "user", "chars": message_size}]


def test_bodies_off_stores_the_record_without_bodies(gateway: Gateway, settings: Any) -> None:
    settings.LOG_BODIES = "off"
    request_id = ask(gateway, "nothing kept", stream=True)
    (log,) = gateway.logs(1)
    assert log.id == request_id and log.prompt_tokens is not None
    assert not RequestBody.objects.filter(pk=request_id).exists()


def test_bodies_over_log_max_body_bytes_are_truncated_in_the_log_only(
    gateway: Gateway, settings: Any
) -> None:
    settings.LOG_BODIES = "full"
    settings.LOG_MAX_BODY_BYTES = 200
    long_text = "word " * 200
    completion = gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": long_text}]
    )
    assert completion.choices[0].message.content == "echo: " + long_text  # never in the request
    (log,) = gateway.logs(1)
    body = RequestBody.objects.get(pk=log.id)
    assert body.truncated is True
    assert body.request["truncated"] is True and len(body.request["prefix"]) == 200
    assert body.request["prefix"].startswith('{"model": "gpt-4o-mini"')


def test_a_stream_over_log_max_body_bytes_keeps_its_beginning_and_says_it_was_cut(
    gateway: Gateway, settings: Any
) -> None:
    settings.LOG_BODIES = "full"
    settings.LOG_MAX_BODY_BYTES = 1000  # of relayed events: a few of the 80 chunks
    reply = "echo: " + " ".join(["many words"] * 40)
    chunks = gateway.openai().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": " ".join(["many words"] * 40)}],
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply
    (log,) = gateway.logs(1)
    body = RequestBody.objects.get(pk=log.id)
    assert body.truncated is True
    assert 0 < len(body.response_text) < 200
    assert reply.startswith(body.response_text)
    assert log.completion_tokens == 81  # usage is still counted from the whole stream
