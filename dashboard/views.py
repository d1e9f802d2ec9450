"""Dashboard pages. Short views: a selector call, a template. Live data comes over the WebSocket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils import timezone

from analytics import insights as insight_finders
from analytics import selectors as analytics
from dashboard import sections
from dashboard.selectors import (
    recent_requests,
    request_for_viewer,
    user_can_view_dashboard,
    visible_namespace_ids,
    visible_namespaces,
)

View = Callable[..., HttpResponse]


def dashboard_view(view: View) -> View:
    """Login required (the dashboard's login page); staff or a namespace viewer."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "dashboard:login")
        if not user_can_view_dashboard(request.user):
            return HttpResponseForbidden("This account may not view the dashboard.")
        return view(request, *args, **kwargs)

    return wrapper


def _page(request: HttpRequest, template: str, page: str, **context: Any) -> HttpResponse:
    namespaces = visible_namespaces(request.user)
    return render(
        request,
        f"dashboard/{template}",
        {
            "page": page,
            "namespaces": {ns.id: ns.name for ns in namespaces},
            "is_staff": request.user.is_staff,
            **context,
        },
    )


@dashboard_view
def overview(request: HttpRequest) -> HttpResponse:
    scope = visible_namespace_ids(request.user)
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = now - timedelta(days=7)
    return _page(
        request,
        "overview.html",
        "overview",
        today=analytics.summary(scope, today, now),
        top_models=analytics.breakdown(scope, today, now, "model", limit=5),
        top_namespaces=_labelled("namespace", analytics.breakdown(scope, today, now, "namespace", limit=5)),
        insights=insight_finders.insights(scope, week, now),
        recent=recent_requests(scope, limit=200),
    )  # fmt: skip


def _labelled(by: str, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labels = analytics.labels_for(by, [g["key"] for g in groups])
    return [{**g, "label": labels.get(g["key"], str(g["key"] or "—"))} for g in groups]


@dashboard_view
def live(request: HttpRequest) -> HttpResponse:
    scope = visible_namespace_ids(request.user)
    return _page(request, "live.html", "live", recent=recent_requests(scope, limit=100))


@dashboard_view
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    log = request_for_viewer(visible_namespace_ids(request.user), request_id)
    if log is None:
        raise Http404("No such request, or not yours to view.")
    body = getattr(log, "body", None)
    annotations = log.annotations or {}
    return _page(
        request,
        "request.html",
        "live",
        log=log,
        body=body,
        security=annotations.get("security"),
        pattern=annotations.get("pattern"),
        enhancements=annotations.get("enhancements"),
        other_annotations={
            k: v for k, v in annotations.items() if k not in ("security", "pattern", "enhancements")
        },
    )


@dashboard_view
def analytics_page(request: HttpRequest) -> HttpResponse:
    return _page(request, "analytics.html", "analytics")


def _section_page(page: str, title: str, lead: str, live_prefixes: list[str]) -> View:
    @dashboard_view
    def view(request: HttpRequest) -> HttpResponse:
        scope = visible_namespace_ids(request.user)
        return _page(
            request,
            "section.html",
            page,
            title=title,
            lead=lead,
            sections=sections.render_sections(page, scope),
            admin_links=sections.admin_links(page) if request.user.is_staff else [],
            live_prefixes=live_prefixes,
        )

    view.__name__ = page
    return view


patterns = _section_page(
    "patterns",
    "Patterns",
    "Prompt patterns: stats and trends, examples and categories.",
    ["request.completed"],
)
security = _section_page(
    "security",
    "Security",
    "Security events, anomalies, policy hit rates and the audit log with its chain status.",
    ["security.", "anomaly.", "alert"],
)
enhancements = _section_page(
    "enhancements",
    "Enhancements & experiments",
    "Transformation rules, suggestions awaiting approval, experiments with their arms.",
    ["experiment.", "alert"],
)
