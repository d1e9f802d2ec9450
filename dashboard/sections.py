"""The extension point of the Patterns, Security and Enhancements pages.

An app that has data for one of these pages adds a dotted path to `SECTIONS[page]`:
a callable `(scope) -> Section | None`, where `scope` is None (staff: every
namespace) or the namespace ids the viewer may see. Until a page has sections it
shows an honest empty state; live events for the page (by name prefix, see
`dashboard.broadcast`) are shown as they arrive either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

SECTIONS: dict[str, tuple[str, ...]] = {
    "patterns": (
        "intelligence.dashboard_sections.top_patterns",
        "intelligence.dashboard_sections.categories",
    ),
    "security": (
        "security.dashboard_sections.recent_events",
        "security.dashboard_sections.policy_hit_rates",
        "security.dashboard_sections.open_anomalies",
        "security.dashboard_sections.audit_log",
    ),
    "enhancements": (),
}

# Whose admin pages each dashboard page links to for editing.
ADMIN_APPS: dict[str, tuple[str, ...]] = {
    "patterns": ("intelligence",),
    "security": ("security",),
    "enhancements": ("intelligence",),
}


@dataclass
class Section:
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    summary: str = ""
    admin_url: str = ""


def render_sections(page: str, scope: frozenset[int] | None) -> list[Section]:
    found = []
    for dotted in SECTIONS.get(page, ()):
        section = import_string(dotted)(scope)
        if section is not None:
            found.append(section)
    return found


def admin_links(page: str) -> list[tuple[str, str]]:
    """(label, url) of the admin change lists of the apps behind a page."""
    links = []
    for model in admin.site._registry:
        if model._meta.app_label not in ADMIN_APPS.get(page, ()):
            continue
        try:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        except NoReverseMatch:
            continue
        links.append((str(model._meta.verbose_name_plural).capitalize(), url))
    return sorted(links)
