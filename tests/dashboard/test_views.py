"""Dashboard pages: behind login, scoped to the viewer's namespaces."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ["/dashboard/", "/dashboard/live/", "/dashboard/analytics/", "/dashboard/patterns/",
         "/dashboard/security/", "/dashboard/enhancements/"]  # fmt: skip


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_strangers_to_the_login(transactional_db: Any, path: str) -> None:
    answer = Client().get(path)
    assert answer.status_code == 302
    assert answer["location"].startswith("/dashboard/login/?next=")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_for_staff_and_viewers(personas: dict[str, Any], path: str) -> None:
    assert client_for(personas["staff"]).get(path).status_code == 200
    assert client_for(personas["viewer"]).get(path).status_code == 200
    assert client_for(personas["outsider"]).get(path).status_code == 403


def test_pages_without_data_say_so_honestly(personas: dict[str, Any]) -> None:
    # a viewer: staff would see the audit log, which their own login has started
    page = client_for(personas["viewer"]).get("/dashboard/security/").content.decode()
    assert "Nothing here yet" in page
    assert "no numbers are made up" in page


def test_a_section_registered_by_another_app_replaces_the_empty_state(
    personas: dict[str, Any], monkeypatch: Any
) -> None:
    from dashboard import sections

    monkeypatch.setitem(sections.SECTIONS, "security", ("tests.dashboard.test_views.fake_section",))
    page = client_for(personas["viewer"]).get("/dashboard/security/").content.decode()
    assert "Nothing here yet" not in page
    assert "Blocked prompts" in page
    assert "scope=" + str(sorted([personas["team_a"].id])) in page


def fake_section(scope: Any) -> Any:
    from dashboard.sections import Section

    return Section(title="Blocked prompts", summary=f"scope={sorted(scope)}")


def test_the_live_monitor_lists_recent_requests_of_the_viewer_only(
    personas: dict[str, Any],
) -> None:
    from tests.analytics.conftest import log

    log(namespace=personas["team_a"], requested_model="model-for-a")
    log(namespace=personas["team_b"], requested_model="model-for-b", resolved_model="model-for-b")
    page = client_for(personas["viewer"]).get("/dashboard/live/").content.decode()
    assert "gpt-4o" in page  # team-a's request (resolved model)
    assert "model-for-b" not in page


def test_a_request_opens_with_its_prompt_response_and_annotations(personas: dict[str, Any]) -> None:
    from proxy.models import RequestBody
    from tests.analytics.conftest import log

    entry = log(
        namespace=personas["team_a"],
        annotations={
            "security": {"findings": [{"kind": "email"}]},
            "pattern": {"name": "summarise"},
        },
    )
    RequestBody.objects.create(
        log=entry,
        request={"messages": [{"role": "user", "content": "Summarise this memo"}]},
        response={"choices": [{"message": {"role": "assistant", "content": "A short memo."}}]},
    )
    page = client_for(personas["viewer"]).get(f"/dashboard/requests/{entry.id}/").content.decode()
    assert "Summarise this memo" in page
    assert "A short memo." in page
    assert "summarise" in page and "email" in page


def test_a_viewer_cannot_open_another_namespace_request(personas: dict[str, Any]) -> None:
    from tests.analytics.conftest import log

    entry = log(namespace=personas["team_b"])
    assert client_for(personas["viewer"]).get(f"/dashboard/requests/{entry.id}/").status_code == 404
    assert client_for(personas["staff"]).get(f"/dashboard/requests/{entry.id}/").status_code == 200


def test_static_files_are_served_by_the_app(transactional_db: Any) -> None:
    answer = Client().get("/static/dashboard/dashboard.js")
    assert answer.status_code == 200


def test_a_namespace_viewer_logs_in_on_the_dashboard_login_page(personas: dict[str, Any]) -> None:
    client = Client()
    answer = client.post(
        "/dashboard/login/",
        {"username": "viewer", "password": "pw-viewer-123", "next": "/dashboard/live/"},
    )
    assert answer.status_code == 302
    assert answer["location"] == "/dashboard/live/"
    assert client.get("/dashboard/live/").status_code == 200
