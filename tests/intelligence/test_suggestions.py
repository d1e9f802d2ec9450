"""Claude proposes improvements for underperforming patterns; an admin approves them
into an experiment, which runs, decides and promotes, all audited.

Claude is played by the project's fake upstream with a minimal Anthropic
`/v1/messages` endpoint added here (this branch's fake speaks OpenAI only); the
official `anthropic` SDK calls it exactly as it would call api.anthropic.com.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from django.test import Client

from intelligence.models import Experiment, Pattern, Suggestion
from intelligence.services.experiments import experiment_evaluate
from intelligence.services.suggestions import suggest_improvements
from proxy.fake_upstream import Behaviour, FakeUpstream
from tests.conftest import Gateway
from tests.intelligence.conftest import learn_now
from tests.intelligence.decisions import decision_records

ANSWER = {
    "rationale": "Every sampled answer stops at the length limit; a model with a larger "
    "output budget finishes them.",
    "operations": [{"op": "route_model", "model": "long-model"}],
}


class FakeClaude(FakeUpstream):
    """The fake upstream, answering Anthropic's Messages API with its scripted reply."""

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/v1/messages", self.messages)
        return app

    async def messages(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        behaviour = self.behaviour_for(body.get("model", ""))
        text = behaviour.reply if behaviour.reply is not None else "{}"
        return web.json_response(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": len(text.split())},
            }
        )


@pytest.fixture(scope="session")
def claude_server() -> FakeClaude:
    return FakeClaude().start_in_thread()


@pytest.fixture
def claude(claude_server: FakeClaude, settings: Any) -> Iterator[FakeClaude]:
    claude_server.reset()
    settings.SUGGESTIONS_API_KEY = "sk-ant-test-key"
    settings.SUGGESTIONS_BASE_URL = f"http://127.0.0.1:{claude_server.port}"
    settings.SUGGESTIONS_MODEL = "claude-test"
    settings.SUGGESTIONS_MIN_REQUESTS = 5
    yield claude_server
    claude_server.reset()


def truncated_traffic(gateway: Gateway, count: int = 8) -> Pattern:
    gateway.fake.by_model["short-model"] = Behaviour(finish_reason="length")
    for n in range(count):
        gateway.openai().chat.completions.create(
            model="short-model",
            messages=[
                {
                    "role": "user",
                    "content": f"Summarise ticket {n} from customer{n}@example.com in three bullet points",
                }
            ],
        )
    learn_now(gateway, count)
    return Pattern.objects.get()


def test_nothing_is_sent_without_a_configured_key(
    gateway: Gateway, claude: FakeClaude, settings: Any
) -> None:
    truncated_traffic(gateway)
    settings.SUGGESTIONS_API_KEY = ""
    report = suggest_improvements()
    assert report.skipped and report.picked == 0
    assert claude.requests == [] and not Suggestion.objects.exists()


def test_an_underperforming_pattern_gets_a_validated_suggestion_from_claude(
    gateway: Gateway, claude: FakeClaude
) -> None:
    pattern = truncated_traffic(gateway)
    claude.default = Behaviour(reply="Here is my proposal:\n" + json.dumps(ANSWER))
    started = time.monotonic()
    report = suggest_improvements()
    assert time.monotonic() - started < 30
    suggestion = Suggestion.objects.get()
    assert report.created == [suggestion.id]
    assert suggestion.pattern == pattern and suggestion.status == "pending"
    assert suggestion.reason == "truncation rate 100%"
    assert suggestion.rationale == ANSWER["rationale"]
    assert suggestion.rule == {
        "conditions": {"pattern": [pattern.id]},
        "operations": ANSWER["operations"],
    }
    sent = claude.requests[0]
    assert sent["path"] == "/v1/messages"
    assert "sk-ant-test-key" in str(sent["headers"])  # the SDK sends the configured key
    assert sent["json"]["model"] == "claude-test"
    prompt = sent["json"]["messages"][0]["content"]
    assert "truncation rate 100%" in prompt and "outcome truncated" in prompt
    assert "@example.com" not in prompt and "[REDACTED:email]" in prompt  # redacted first
    assert prompt == suggestion.sent_prompt
    assert decision_records().filter(action="suggestion.create").count() == 1
    assert suggest_improvements().picked == 0  # one pending suggestion per pattern


@pytest.mark.parametrize(
    "reply",
    [
        "I would lower the temperature.",
        json.dumps({"rationale": "x", "operations": [{"op": "delete_everything"}]}),
        json.dumps({"operations": [{"op": "system_append", "text": "Be brief."}]}),
    ],
)
def test_an_unusable_answer_is_not_stored(gateway: Gateway, claude: FakeClaude, reply: str) -> None:
    truncated_traffic(gateway)
    claude.default = Behaviour(reply=reply)
    report = suggest_improvements()
    assert report.picked == 1 and report.invalid == 1
    assert not Suggestion.objects.exists()


def test_an_approved_suggestion_runs_as_an_experiment_and_is_promoted(
    gateway: Gateway, claude: FakeClaude, admin_user: Any
) -> None:
    truncated_traffic(gateway)
    claude.default = Behaviour(reply=json.dumps(ANSWER))
    suggestion = suggest_improvements() and Suggestion.objects.get()
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/intelligence/suggestion/",
        {"action": "approve_as_experiment", "_selected_action": [suggestion.id]},
    )
    assert response.status_code == 302
    suggestion.refresh_from_db()
    experiment = suggestion.created_experiment
    assert suggestion.status == "approved" and suggestion.decided_by == "admin:admin"
    assert experiment is not None and experiment.status == "running"
    Experiment.objects.filter(pk=experiment.pk).update(min_samples_per_arm=10, mode="auto")
    experiment.refresh_from_db()
    for n in range(70):
        gateway.openai().chat.completions.create(
            model="short-model",
            messages=[
                {
                    "role": "user",
                    "content": f"Summarise ticket {n} from customer{n}@example.com in three bullet points",
                }
            ],
            extra_headers={"x-session-id": f"customer-{n}"},
        )
    learn_now(gateway, 78)
    decision = experiment_evaluate(experiment=experiment)
    assert decision.action == "promote"
    experiment.refresh_from_db()
    assert experiment.status == "promoted" and experiment.promoted_rule is not None
    assert experiment.promoted_rule.operations == ANSWER["operations"]
    actions = list(decision_records().order_by("id").values_list("actor", "action"))
    assert ("admin:admin", "suggestion.approve") in actions
    assert ("admin:admin", "experiment.start") in actions
    assert ("system:experiments", "experiment.promote") in actions


def test_a_rejected_suggestion_changes_nothing(
    gateway: Gateway, claude: FakeClaude, admin_user: Any
) -> None:
    truncated_traffic(gateway)
    claude.default = Behaviour(reply=json.dumps(ANSWER))
    suggest_improvements()
    suggestion = Suggestion.objects.get()
    client = Client()
    client.force_login(admin_user)
    client.post(
        "/admin/intelligence/suggestion/",
        {"action": "reject", "_selected_action": [suggestion.id]},
    )
    suggestion.refresh_from_db()
    assert suggestion.status == "rejected"
    assert not Experiment.objects.exists()
    assert decision_records().filter(action="suggestion.reject").count() == 1


def test_the_scheduled_job_reports_what_it_did(gateway: Gateway, claude: FakeClaude) -> None:
    from intelligence import tasks

    truncated_traffic(gateway)
    claude.default = Behaviour(reply=json.dumps(ANSWER))
    report = tasks.suggest_improvements()
    assert report == {"picked": 1, "created": [Suggestion.objects.get().id], "skipped": ""}


def test_the_judge_scores_a_sample_of_answers_once_and_arms_report_it(
    gateway: Gateway, claude: FakeClaude, settings: Any
) -> None:
    from intelligence import tasks
    from intelligence.models import JudgeScore
    from intelligence.services.experiments import experiment_create, experiment_start

    assert tasks.judge_answers() == {"judged": 0, "invalid": 0}  # off by default
    experiment = experiment_start(
        experiment=experiment_create(
            name="judge", operations=[{"op": "system_append", "text": "x"}], actor="admin:a"
        ),
        actor="admin:a",
    )
    for n in range(6):
        gateway.openai().chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": f"Write to ann{n}@example.com about lunch"}],
            extra_headers={"x-session-id": f"j{n}"},
        )
    learn_now(gateway, 6)
    settings.JUDGE_SAMPLE_RATE = 1.0
    claude.default = Behaviour(reply='{"score": 0.75, "reason": "clear and complete"}')
    assert tasks.judge_answers() == {"judged": 6, "invalid": 0}
    assert tasks.judge_answers() == {"judged": 0, "invalid": 0}  # idempotent
    assert JudgeScore.objects.count() == 6 and {s.score for s in JudgeScore.objects.all()} == {0.75}
    sent = claude.requests[0]["json"]
    assert "@example.com" not in sent["messages"][0]["content"]
    assert "grade answers" in sent["system"]
    experiment_evaluate(experiment=experiment)
    arms = list(experiment.arms.all())
    assert sum(a.judge_count for a in arms) == 6
    assert sum(a.judge_sum for a in arms) == 4.5


def test_an_unusable_judgement_is_not_stored(
    gateway: Gateway, claude: FakeClaude, settings: Any
) -> None:
    from intelligence.models import JudgeScore
    from intelligence.services.judge import judge_sample, parse_score

    gateway.openai().chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hello"}]
    )
    learn_now(gateway, 1)
    settings.JUDGE_SAMPLE_RATE = 1.0
    claude.default = Behaviour(reply='{"score": 7}')
    assert judge_sample() == {"judged": 0, "invalid": 1}
    assert not JudgeScore.objects.exists()
    assert parse_score('{"score": true}') is None and parse_score("great") is None
    assert parse_score('ok {"score": 1, "reason": "r"}') == (1.0, "r")
