"""gunicorn reads this file from its working directory by itself, so the
commands in README, compose.yaml, the Procfile and the Dockerfile need no
option for it: with LOG_FORMAT=json gunicorn's own lines are JSON too."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.logs import gunicorn_logging  # noqa: E402 - after the settings module

logconfig_dict = gunicorn_logging()
