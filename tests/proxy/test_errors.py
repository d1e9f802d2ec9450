"""Errors come back in OpenAI's format with the right status, and are logged."""

from __future__ import annotations

import httpx
import openai
import pytest
from django.test import override_settings

from proxy.models import ApiKey
from proxy.services.keys import api_key_revoke, api_key_set_state
from tests.conftest import Gateway, make_key

MESSAGES = [{"role": "user", "content": "hi"}]


def test_it_rejects_an_unknown_key(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.openai(api_key="lp-not-a-real-key-at-all").chat.completions.create(
            model="m", messages=MESSAGES
        )
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    [log] = gateway.logs(1)
    assert log.status_code == 401 and log.api_key_id is None


def test_a_key_unknown_to_the_snapshot_gets_503_in_the_callers_format_while_the_database_is_down(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anthropic
    from django.db.utils import OperationalError

    from proxy.runtime import get_runtime

    lookups: list[str] = []

    def unreachable(prefix: str) -> None:
        lookups.append(prefix)
        raise OperationalError("connection refused")

    monkeypatch.setattr("proxy.services.auth.find_keys", unreachable)
    monkeypatch.setattr(get_runtime(), "_database_down_until", 0.0)  # restored afterwards
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.openai(api_key="lp-newer-than-the-snapshot").chat.completions.create(
            model="m", messages=MESSAGES
        )
    assert caught.value.status_code == 503
    assert caught.value.body["code"] == "key_store_unavailable"
    assert caught.value.response.headers["retry-after"] == "2"
    with pytest.raises(anthropic.InternalServerError) as refused:
        anthropic.Anthropic(
            base_url=gateway.url, api_key="lp-newer-than-the-snapshot", max_retries=0
        ).messages.create(model="m", max_tokens=10, messages=MESSAGES)
    assert refused.value.status_code == 503
    assert refused.value.body["error"]["type"] == "overloaded_error"
    assert len(lookups) == 1, "the second request should not wait on a database that just failed"
    assert gateway.fake.requests == []
    assert {log.status_code for log in gateway.logs(2)} == {503}


def test_it_rejects_a_missing_key(gateway: Gateway) -> None:
    response = httpx.post(
        gateway.v1 + "/chat/completions", json={"model": "m", "messages": MESSAGES}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


def test_a_suspended_key_gets_403_and_a_revoked_one_401(gateway: Gateway) -> None:
    api_key_set_state(key=gateway.api_key, state=ApiKey.State.SUSPENDED)
    with pytest.raises(openai.PermissionDeniedError):
        gateway.openai().chat.completions.create(model="m", messages=MESSAGES)
    api_key_revoke(key=gateway.api_key)
    with pytest.raises(openai.AuthenticationError):
        gateway.openai().chat.completions.create(model="m", messages=MESSAGES)


def test_an_expired_key_is_refused(gateway: Gateway) -> None:
    from django.utils import timezone

    secret, _ = make_key(name="old", expires_at=timezone.now())
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.openai(api_key=secret).chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.body["code"] == "key_expired"


def test_a_model_outside_the_allowed_list_gets_403(gateway: Gateway) -> None:
    secret, _ = make_key(name="narrow", allowed_models=["gpt-4o-mini"])
    client = gateway.openai(api_key=secret)
    assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert caught.value.body["code"] == "model_not_allowed"


def test_an_unknown_model_gets_404_when_nothing_serves_it(gateway: Gateway) -> None:
    gateway.provider.is_default = False
    gateway.provider.name = "fake"
    gateway.provider.save()
    from proxy.models import Provider

    Provider.objects.create(name="other", base_url=gateway.fake.base_url)
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.openai().chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.body["code"] == "model_not_found"


def test_an_oversized_body_gets_413(gateway: Gateway) -> None:
    with override_settings(MAX_REQUEST_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = httpx.post(
            gateway.v1 + "/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]},
            headers={"authorization": f"Bearer {gateway.key}"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_an_upstream_5xx_becomes_502(gateway: Gateway) -> None:
    gateway.fake.then(status=500)
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.openai().chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 502
    [log] = gateway.logs(1)
    assert log.status_code == 502
    assert log.annotations["upstream_error"]["upstream_status"] == 500
    assert log.attempts[0]["status"] == 500


def test_an_upstream_client_error_passes_through_in_its_own_words(gateway: Gateway) -> None:
    gateway.fake.then(
        status=422,
        error_body={
            "error": {
                "message": "bad temperature",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": None,
            }
        },
    )
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        gateway.openai().chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.body["message"] == "bad temperature"


def test_an_upstream_timeout_becomes_504(gateway: Gateway) -> None:
    gateway.provider.timeout_seconds = 0.2
    gateway.provider.save()
    gateway.fake.then(delay=1.0)
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.openai().chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 504
    assert caught.value.body["type"] == "timeout"


def test_an_unreachable_upstream_becomes_502(gateway: Gateway) -> None:
    gateway.provider.base_url = "http://127.0.0.1:9/v1"
    gateway.provider.save()
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.openai().chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 502


def test_unknown_v1_paths_answer_json_not_html(gateway: Gateway) -> None:
    response = httpx.post(gateway.v1 + "/nope", json={})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_the_provider_key_never_reaches_the_log(gateway: Gateway) -> None:
    gateway.fake.then(status=500)
    with pytest.raises(openai.APIStatusError):
        gateway.openai().chat.completions.create(model="m", messages=MESSAGES)
    [log] = gateway.logs(1)
    from django.core import serializers

    dumped = serializers.serialize("json", [log, *list(type(log).objects.none())])
    assert "sk-fake-upstream-secret" not in dumped
