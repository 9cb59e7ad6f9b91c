# kameng: the API (`kameng serve`) and, with another command, the worker (`kameng worker`).
#   docker build -t kameng .
#   docker compose up            (compose.yaml: PostgreSQL, Redis, migrations, API, worker)
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango for the evidence PDF (WeasyPrint), CJK fonts so Chinese renders in it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The locked versions first (a layer that changes only with the lock), then the package itself.
COPY requirements.lock pyproject.toml README.md ./
COPY src ./src
RUN pip install -c requirements.lock '.[pdf,postgres]'

# No root at run time; the SQLite fallback and any files the app writes live in /app/var.
RUN useradd --create-home --uid 10001 kameng && mkdir -p /app/var && chown kameng /app/var
USER kameng

ENV KAMENG_HOST=0.0.0.0 \
    KAMENG_PORT=8000 \
    KAMENG_ENV=production \
    KAMENG_EMBEDDED_WORKER=0 \
    KAMENG_LOG_FORMAT=json

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"

CMD ["kameng", "serve"]
