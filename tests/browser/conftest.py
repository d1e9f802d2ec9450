"""Browser tests: Debian's Chromium driven by Playwright against daphne serving the app.

Run in their own pytest process (pytest-playwright and pytest-asyncio do not share
one): `make test-browser`. Skipped when Chromium is not installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import running_daphne

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

# Playwright's sync API keeps an event loop in the main thread; the test's own ORM
# calls are synchronous all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
    pytest.skip(f"Chromium not found at {CHROMIUM}", allow_module_level=True)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-quic",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    return {"viewport": {"width": 1400, "height": 900}}


@pytest.fixture(scope="session")
def daphne_url(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """The app served by daphne (as `make run` does) on a free port, on the test database."""
    with django_db_blocker.unblock(), running_daphne(LOG_FLUSH_SECONDS="0.05") as url:
        yield url


@pytest.fixture
def screenshot(page: Any) -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
