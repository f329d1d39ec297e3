"""What each log line is about, and log lines as JSON (LOG_FORMAT=json).

What a line is about (the web request, the campaign, the message, the Celery
task) is kept in context variables: RequestIdMiddleware sets the request id,
Celery's task signals the task (config/celery.py), and the workflow the campaign
and message around a send (campaigns/sending.py, campaigns/tasks.py).
ContextFilter copies them onto every record, so any formatter can show them;
a value given in a log call's `extra` wins.

Nothing here reads a message's text or a provider's request: lines say only
what their callers wrote, which the send path keeps free of secrets
(providers/outbound/redaction.py).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime

FIELDS = ("request_id", "campaign_id", "message_id", "task", "task_id")
_context: dict[str, ContextVar] = {
    name: ContextVar(name, default=None) for name in FIELDS
}
# An id a client sends is kept only if it cannot forge a log line or a header.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def bind(**values: object) -> list[tuple[ContextVar, Token]]:
    """Set context values; hand the result to unbind() to restore the old ones."""
    return [
        (_context[name], _context[name].set(value)) for name, value in values.items()
    ]


def unbind(tokens: list[tuple[ContextVar, Token]]) -> None:
    for variable, token in reversed(tokens):
        variable.reset(token)


@contextmanager
def bound(**values: object) -> Iterator[None]:
    """Every line logged inside the block carries these values."""
    tokens = bind(**values)
    try:
        yield
    finally:
        unbind(tokens)


class ContextFilter(logging.Filter):
    """Puts the context's values on each record (on handlers, so records from
    every logger that reaches them get them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in _context.items():
            if getattr(record, name, None) is None:
                setattr(record, name, variable.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the
    context's values that are set, and the traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class RequestIdMiddleware:
    """Each request gets an id: the caller's X-Request-ID when it is a plain
    token, else a new one. Every line logged while it is answered carries it,
    and so does the answer's X-Request-ID header, so a user's report can be
    matched with the lines. First in MIDDLEWARE, so no line goes without it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        with bound(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def settings_logging(*, level: str, log_format: str) -> dict:
    """Django's LOGGING for the chosen format."""
    handler: dict[str, object] = {"class": "logging.StreamHandler"}
    if log_format == "json":
        handler |= {"formatter": "json", "filters": ["context"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        # urllib3 logs each request line at DEBUG, query string and all, and a
        # provider's secret URL parameter travels there: even LOG_LEVEL=DEBUG
        # must not write it out.
        "loggers": {"urllib3": {"level": "WARNING"}},
    }


def to_json(logger: logging.Logger) -> None:
    """Make the handlers another library set up (Celery's) write JSON."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
        handler.addFilter(ContextFilter())


def gunicorn_logging() -> dict:
    """gunicorn's logconfig_dict (gunicorn.conf.py): its own lines (start-up,
    workers, the access log when enabled) as JSON too when LOG_FORMAT=json;
    empty, so gunicorn keeps its own format, otherwise."""
    from django.conf import settings

    if settings.LOG_FORMAT != "json":
        return {}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "filters": ["context"],
        "stream": "ext://sys.stderr",
    }
    return {
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": "INFO"},
        "loggers": {
            name: {"handlers": ["json"], "level": "INFO", "propagate": False}
            for name in ("gunicorn.error", "gunicorn.access")
        },
    }
