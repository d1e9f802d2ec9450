"""Settings: every variable documented, empty values treated as unset."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_example_variables() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.M)


def test_every_variable_in_env_example_is_read_by_settings_and_documented() -> None:
    settings_source = (ROOT / "llmproxy" / "settings.py").read_text()
    documented = (ROOT / "docs" / "configuration.md").read_text()
    variables = env_example_variables()
    assert len(variables) > 30
    for name in variables:
        assert f'"{name}"' in settings_source, f"{name} is not read in settings.py"
        assert f"`{name}`" in documented, f"{name} is not in docs/configuration.md"


def test_an_empty_database_url_means_the_embedded_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "", "DATA_DIR": str(tmp_path)}
    code = "from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "llmproxy.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == str(tmp_path / "llmproxy.sqlite3")
    assert (tmp_path / "secret_key").exists()  # generated once, kept in DATA_DIR
