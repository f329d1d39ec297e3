"""Environment for the test run, loaded by pytest before Django configures itself.

Keys are generated per run so that no key ever lives in the repository.
"""

from __future__ import annotations

import os
import secrets

from cryptography.fernet import Fernet

os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("SMS_ALLOW_PRIVATE_ENDPOINTS", "true")
# Each test process its own cache (OAuth tokens), emptied before every test.
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("SMS_SANDBOX_API_KEY", secrets.token_urlsafe(24))
os.environ.setdefault("SMS_SANDBOX_SLOW_SECONDS", "3")
os.environ.setdefault("SMS_READ_TIMEOUT", "1.5")
os.environ.setdefault("SMS_CONNECT_TIMEOUT", "1.5")
os.environ.setdefault("SMS_SANDBOX_DLR_DELAY", "0.2")
# The breaker is live in every test, with a cool-down short enough that a
# flaky fake provider opening it costs a worker test seconds, not a minute.
os.environ.setdefault("PROVIDER_BREAKER_COOLDOWN_SECONDS", "2")
