"""config.settings with providers.checks: a production environment passes
`manage.py check --deploy` with no warning at all."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]


def check_deploy(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    # A clean environment: the test run's own variables (DEBUG-era defaults such
    # as DJANGO_SECURE_SSL_REDIRECT=false) must not leak into "production".
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "sms.example.com",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_BASE_URL": "https://sms.example.com",
        "SMS_ALLOW_PRIVATE_ENDPOINTS": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        **overrides,
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_passes_the_deploy_check_in_production(tmp_path) -> None:
    result = check_deploy(tmp_path)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_warns_when_private_endpoints_are_allowed_in_production(tmp_path) -> None:
    result = check_deploy(tmp_path, SMS_ALLOW_PRIVATE_ENDPOINTS="true")

    assert result.returncode != 0
    assert "smsbridge.W001" in result.stderr


def test_it_warns_when_callbacks_would_arrive_over_plain_http(tmp_path) -> None:
    result = check_deploy(tmp_path, PUBLIC_BASE_URL="http://sms.example.com")

    assert result.returncode != 0
    assert "smsbridge.W002" in result.stderr


def test_it_fails_the_check_with_a_broken_encryption_key(tmp_path) -> None:
    result = check_deploy(tmp_path, FIELD_ENCRYPTION_KEYS="not-a-fernet-key")

    assert result.returncode != 0
    assert "smsbridge.E001" in result.stderr
