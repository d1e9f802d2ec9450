"""What the dashboard's Patterns page shows (`dashboard.sections.SECTIONS["patterns"]`)."""

from __future__ import annotations

from django.urls import reverse

from dashboard.sections import Section
from intelligence.models import Category, Pattern


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def top_patterns(scope: frozenset[int] | None) -> Section | None:
    patterns = Pattern.objects.select_related("namespace", "category").order_by("-requests")
    if scope is not None:
        patterns = patterns.filter(namespace_id__in=scope)
    rows = [
        [
            f"#{p.pk}",
            p.name[:80],
            p.namespace.name,
            p.category.name if p.category else "",
            p.requests,
            _percent(p.success_rate),
            _percent(p.truncation_rate),
            _percent(p.refusal_rate),
            "" if p.feedback_score is None else f"{p.feedback_score:.2f}",
            f"${p.cost_usd:.4f}",
            "" if p.trend is None else f"{p.trend:.2f}×",
        ]
        for p in patterns[:25]
    ]
    if not rows:
        return None
    return Section(
        title="Patterns by volume",
        columns=[
            "Id",
            "Name",
            "Namespace",
            "Category",
            "Requests",
            "Success",
            "Truncated",
            "Refused",
            "Feedback",
            "Cost",
            "Trend",
        ],
        rows=rows,
        admin_url=reverse("admin:intelligence_pattern_changelist"),
    )


def categories(scope: frozenset[int] | None) -> Section | None:
    rows = []
    for category in Category.objects.order_by("name"):
        patterns = category.patterns.all()
        if scope is not None:
            patterns = patterns.filter(namespace_id__in=scope)
        rows.append([category.name, category.description[:80], patterns.count()])
    if not rows:
        return None
    return Section(
        title="Categories",
        columns=["Category", "Description", "Patterns"],
        rows=rows,
        admin_url=reverse("admin:intelligence_category_changelist"),
    )
