# syntax=docker/dockerfile:1
# suno-mock as a service: `docker run -p 8080:8080 -v suno-mock:/data suno-contract-kit`.
# Every setting is a SUNO_MOCK_* environment variable (see `suno-mock serve --help`).
ARG PYTHON_VERSION=3.11

# --- build: the wheel, then a virtualenv holding only the wheel and its dependencies ----------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mock_server ./mock_server
COPY contract_tests ./contract_tests
COPY schemas ./schemas
COPY fixtures ./fixtures
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
 && python -m venv /opt/suno-mock \
 && wheel="$(echo /dist/suno_contract_kit-*.whl)" \
 && /opt/suno-mock/bin/pip install --no-cache-dir "${wheel}[redis]" \
 && /opt/suno-mock/bin/pip uninstall --yes pip

# --- run ------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim
RUN groupadd --system --gid 10001 suno \
 && useradd --system --uid 10001 --gid suno --no-create-home --shell /usr/sbin/nologin suno \
 && mkdir /data \
 && chown suno:suno /data
COPY --from=build /opt/suno-mock /opt/suno-mock
ENV PATH="/opt/suno-mock/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SUNO_MOCK_HOST=0.0.0.0 \
    SUNO_MOCK_PORT=8080 \
    SUNO_MOCK_WORKERS=2 \
    SUNO_MOCK_STORE=sqlite:///data/suno-mock.db \
    SUNO_MOCK_GRACEFUL_TIMEOUT=8
# The SQLite store lives here: mount a volume to keep tasks across container restarts.
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
# Liveness only (/readyz says whether the store answers). The slim image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SUNO_MOCK_PORT', '8080'), timeout=2)"]
ENTRYPOINT ["suno-mock", "serve"]
