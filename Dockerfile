# smsbridge's web, worker and beat image (compose.yaml runs all three from it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

RUN useradd --create-home --uid 10001 smsbridge
WORKDIR /app

# Dependencies first, so a change to the code alone reuses this layer; the
# code itself runs from /app (PYTHONPATH), not from an installed copy.
COPY pyproject.toml README.md ./
RUN pip install ".[postgres,redis,sentry]" && pip uninstall --yes smsbridge

COPY --chown=smsbridge:smsbridge . .

# Static files are collected into the image and served by whitenoise (beat
# writes its schedule beside the code, so /app is the user's too). The
# settings need a key to load; these placeholders serve this step only.
RUN DJANGO_SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEYS=collectstatic-only \
    python manage.py collectstatic --noinput \
    && chown -R smsbridge:smsbridge /app/var \
    && chown smsbridge:smsbridge /app

USER smsbridge
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--workers", "4", "--bind", "0.0.0.0:8000"]
