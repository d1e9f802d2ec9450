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


def _scoped_namespace(queryset, scope):  # type: ignore[no-untyped-def]
    """Rows of the viewer's namespaces, and global ones (no namespace) for staff only."""
    return queryset if scope is None else queryset.filter(namespace_id__in=scope)


def rules(scope: frozenset[int] | None) -> Section | None:
    from intelligence.models import Rule

    found = _scoped_namespace(Rule.objects.order_by("order", "id"), scope)[:25]
    rows = [
        [r.pk, r.name, "on" if r.enabled else "off", r.order, f"v{r.version}",
         ", ".join(op.get("op", "?") for op in r.operations if isinstance(op, dict))]
        for r in found
    ]  # fmt: skip
    if not rows:
        return None
    return Section(
        title="Transformation rules",
        columns=["Id", "Name", "Enabled", "Order", "Version", "Operations"],
        rows=rows,
        admin_url=reverse("admin:intelligence_rule_changelist"),
    )


def suggestions_awaiting_approval(scope: frozenset[int] | None) -> Section | None:
    from intelligence.models import Suggestion

    pending = Suggestion.objects.filter(status="pending").select_related("pattern")
    if scope is not None:
        pending = pending.filter(pattern__namespace_id__in=scope)
    rows = [[s.pk, f"#{s.pattern_id}", s.reason, s.rationale[:160]] for s in pending[:20]]
    if not rows:
        return None
    return Section(
        title="Suggestions awaiting approval",
        columns=["Id", "Pattern", "Why", "Claude's rationale"],
        rows=rows,
        admin_url=reverse("admin:intelligence_suggestion_changelist"),
    )


def _interval_text(metric: dict[str, float | None]) -> str:
    value, low, high = metric.get("value"), metric.get("low"), metric.get("high")
    if value is None:
        return ""
    if low is None or high is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def experiments(scope: frozenset[int] | None) -> Section | None:
    if scope is not None:  # experiments may span namespaces: staff only
        return None
    from intelligence.experiment_selectors import experiment_summaries

    rows = []
    for summary in experiment_summaries()[:10]:
        for arm in summary["arms"]:
            versus = arm.get("vs_control") or {}
            rows.append(
                [
                    summary["name"],
                    summary["status"],
                    arm["name"] + (" (control)" if arm["control"] else ""),
                    arm["samples"],
                    _interval_text(arm["success_rate"]),
                    _interval_text(arm["error_rate"]),
                    _interval_text(arm["cost_usd"]),
                    "" if not versus else f"{versus['always_valid_p']:.4f}",
                ]
            )
    if not rows:
        return None
    return Section(
        title="Experiments (95% intervals; always-valid p-value against control)",
        columns=[
            "Experiment",
            "Status",
            "Arm",
            "Samples",
            "Success",
            "Errors",
            "Cost (USD)",
            "p vs control",
        ],
        rows=rows,
        admin_url=reverse("admin:intelligence_experiment_changelist"),
    )
