"""Feedback through the API and through a header; it changes the pattern's success rate."""

from __future__ import annotations

from typing import Any

from intelligence.models import Feedback, Pattern, RequestInsight
from tests.conftest import Gateway, make_key
from tests.intelligence.conftest import ask, learn_now


def request_id(raw: Any) -> str:
    return raw.headers["x-llmproxy-request-id"]


def test_feedback_lowers_the_success_rate_of_the_pattern(gateway: Gateway, api: Any) -> None:
    ids = [request_id(ask(gateway, f"Name a colour that rhymes with {w}")) for w in ("red", "blue")]
    learn_now(gateway, 2)
    pattern = Pattern.objects.get()
    assert pattern.success_rate == 1.0

    answer = api.post(
        "/api/feedback", json={"request_id": ids[0], "thumbs": "down", "comment": "meh"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["score"] == 0.0
    pattern.refresh_from_db()
    assert pattern.success_rate == 0.5 and pattern.feedback_score == 0.0

    assert api.post("/api/feedback", json={"request_id": ids[1], "score": 0.9}).status_code == 201
    pattern.refresh_from_db()
    assert pattern.success_rate == 0.5 and pattern.feedback_score == 0.45
    assert Feedback.objects.get(log_id=ids[0]).comment == "meh"


def test_feedback_for_another_namespace_or_an_unknown_request_is_refused(
    gateway: Gateway, api: Any
) -> None:
    import httpx

    rid = request_id(ask(gateway, "hello"))
    gateway.logs(1)
    other_secret, _ = make_key(namespace="team-b", name="other")
    outsider = httpx.post(
        gateway.url + "/api/feedback",
        json={"request_id": rid, "score": 1},
        headers={"authorization": f"Bearer {other_secret}"},
    )
    assert outsider.status_code == 404
    assert outsider.json()["error"]["type"] == "invalid_request_error"
    assert api.post("/api/feedback", json={"request_id": "f" * 32, "score": 1}).status_code == 404
    anonymous = httpx.post(gateway.url + "/api/feedback", json={"request_id": rid, "score": 1})
    assert anonymous.status_code == 401
    assert not Feedback.objects.exists()


def test_feedback_needs_a_valid_score(gateway: Gateway, api: Any) -> None:
    rid = request_id(ask(gateway, "hello"))
    gateway.logs(1)
    assert api.post("/api/feedback", json={"request_id": rid}).status_code == 400
    assert api.post("/api/feedback", json={"request_id": rid, "score": 1.5}).status_code in (
        400,
        422,
    )
    assert api.post(
        "/api/feedback", json={"request_id": rid, "thumbs": "sideways"}
    ).status_code in (400, 422)


def test_feedback_in_a_header_of_a_later_request_is_stored_once(gateway: Gateway) -> None:
    first = request_id(ask(gateway, "Suggest a name for my cat"))
    ask(
        gateway, "Suggest a name for my dog", extra_headers={"x-llmproxy-feedback": f"{first}=down"}
    )
    report = learn_now(gateway, 2)
    assert report.feedback == 1
    stored = Feedback.objects.get()
    assert (stored.log_id, stored.score, stored.source) == (first, 0.0, "header")
    assert RequestInsight.objects.get(log_id=first).feedback_score == 0.0
    assert learn_now(gateway, 2).feedback == 0 and Feedback.objects.count() == 1


def test_a_header_cannot_give_feedback_to_another_namespace(gateway: Gateway) -> None:
    first = request_id(ask(gateway, "Suggest a name for my cat"))
    other_secret, _ = make_key(namespace="team-b", name="other")
    gateway.openai(api_key=other_secret).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-llmproxy-feedback": f"{first}=0"},
    )
    assert learn_now(gateway, 2).feedback == 0
    assert not Feedback.objects.exists()


def test_feedback_with_characters_the_database_cannot_store_is_refused_cleanly(
    gateway: Gateway,
) -> None:
    import httpx

    for body in (
        {"request_id": "abc\u0000def", "score": 1},
        {"request_id": "0" * 32, "score": 1, "comment": "nul \u0000 inside"},
    ):
        response = httpx.post(
            gateway.url + "/api/feedback",
            json=body,
            headers={"authorization": f"Bearer {gateway.key}"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["type"] == "invalid_request_error"
